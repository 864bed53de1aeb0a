/**
 * Prepared (validated, rewritten, compiled) modules by module id, so each module is
 * compiled once however many processes use it. Bounded by the bytes of the original modules
 * (compiled code grows with them), least recently used first out. A failed preparation is
 * not kept: it is deterministic, but it may also have been a thread lost mid-way.
 */
import type { ModuleLayout } from "./protocol.js";

/** A module ready to instantiate in any thread (a WebAssembly.Module can be posted). */
export interface PreparedModule {
  id: string;
  module: WebAssembly.Module;
  layout: ModuleLayout;
}

/** Prepared modules by id, bounded by bytes (see the file comment). */
export class ModuleCache {
  private readonly entries = new Map<string, { bytes: number; prepared: Promise<PreparedModule> }>();
  private totalBytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The prepared module for `id`, preparing it (once, even for concurrent callers) on a miss. */
  get(id: string, bytes: number, prepare: () => Promise<PreparedModule>): Promise<PreparedModule> {
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit.prepared;
    }
    const entry = { bytes, prepared: prepare() };
    this.entries.set(id, entry);
    this.totalBytes += bytes;
    entry.prepared.catch(() => {
      if (this.entries.get(id) === entry) this.remove(id);
    });
    for (const oldest of this.entries.keys()) {
      if (this.totalBytes <= this.maxBytes || oldest === id) break;
      this.remove(oldest);
    }
    return entry.prepared;
  }

  get size(): number {
    return this.entries.size;
  }

  private remove(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.totalBytes -= entry.bytes;
  }
}
