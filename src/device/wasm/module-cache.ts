/**
 * Prepared (validated, rewritten, compiled) modules by module id, so each module is
 * compiled once however many processes use it. Bounded in bytes, least recently used first
 * out; a module weighs what it is estimated to take compiled (`compiledWeight`: V8 does not
 * say, and a tiny module's compiled form is ten times its bytes). Concurrent requests for
 * one module share one preparation. A failed preparation is not kept: it is deterministic,
 * but it may also have been a thread lost mid-way.
 */
import { LRUCache } from "lru-cache";
import type { ModuleLayout } from "./protocol.js";

/** A module ready to instantiate in any thread (a WebAssembly.Module can be posted). */
export interface PreparedModule {
  id: string;
  module: WebAssembly.Module;
  layout: ModuleLayout;
  /** Size of the original module bytes (its weight in the cache is compiledWeight of it). */
  sourceBytes: number;
}

/** What one compiled module is taken to hold: a fixed part (measured at about 22 KiB for
 * a 2 KiB module on Node 20) and a part that grows with the module's code. An overestimate on
 * purpose: the bound must hold. */
export function compiledWeight(sourceBytes: number): number {
  return 32 * 1024 + 4 * sourceBytes;
}

/** Prepared modules by id, bounded by bytes (see the file comment). */
export class ModuleCache {
  private readonly cache: LRUCache<string, PreparedModule>;
  private readonly preparing = new Map<string, Promise<PreparedModule>>();

  constructor(maxBytes: number) {
    this.cache = new LRUCache({
      maxSize: maxBytes,
      sizeCalculation: (prepared) => compiledWeight(prepared.sourceBytes),
    });
  }

  /** The prepared module for `id`, preparing it (once, even for concurrent callers) on a miss. */
  get(id: string, prepare: () => Promise<PreparedModule>): Promise<PreparedModule> {
    const hit = this.cache.get(id);
    if (hit !== undefined) return Promise.resolve(hit);
    let pending = this.preparing.get(id);
    if (pending === undefined) {
      pending = prepare().then(
        (prepared) => {
          this.preparing.delete(id);
          this.cache.set(id, prepared);
          return prepared;
        },
        (err: unknown) => {
          this.preparing.delete(id);
          throw err;
        },
      );
      this.preparing.set(id, pending);
    }
    return pending;
  }

  /** Modules prepared and kept. */
  get size(): number {
    return this.cache.size;
  }
}
