/**
 * A process's definition as the compute path needs it: the spawn message, the device that
 * runs it and (for wasm@1.0) its module. Loaded once per process and cached, so a worker's
 * restart costs no extra reads.
 */
import { LRUCache } from "lru-cache";
import { notFound, ProcworkerError } from "../core/errors.js";
import type { Message } from "../core/message.js";
import type { Device, ModuleSource } from "../device/device.js";
import type { DeviceRegistry } from "../device/registry.js";
import type { Store } from "../store/store.js";

/** The tag that names a process's device. */
export const DEVICE_TAG = "Execution-Device";
/** The tag that names a process's module (wasm@1.0). */
export const MODULE_TAG = "Module";

export interface ProcessDefinition {
  processId: string;
  spawn: Message;
  device: Device;
  module?: ModuleSource;
}

/** Bounds of the caches, in bytes (an entry's weight is the size of what it holds). */
export interface DefinitionCacheLimits {
  /** Spawn messages kept (tags and data). */
  definitionBytes: number;
  /** Module bytes kept. */
  moduleBytes: number;
}

/** The defaults, as the options definition_cache_bytes and module_cache_bytes give them. */
export const DEFAULT_DEFINITION_CACHE_LIMITS: DefinitionCacheLimits = {
  definitionBytes: 64 * 1024 * 1024,
  moduleBytes: 256 * 1024 * 1024,
};

/** Bytes a definition is counted for: its spawn message plus a fixed overhead per entry. */
function definitionWeight(definition: ProcessDefinition): number {
  let bytes = 256 + definition.spawn.data.byteLength;
  for (const [name, value] of Object.entries(definition.spawn.tags)) bytes += 2 * (name.length + value.length);
  return bytes;
}

/** Caches definitions by process id (unknown processes are not cached) and module bytes by
 * module id, both bounded in bytes, least recently used out first: memory does not grow with
 * the number of processes a server has seen or the size of their definitions. Concurrent
 * loads of one process share one read. */
export class DefinitionCache {
  private readonly definitions: LRUCache<string, ProcessDefinition>;
  private readonly loading = new Map<string, Promise<ProcessDefinition>>();
  private readonly modules: LRUCache<string, Uint8Array>;

  constructor(
    private readonly store: Store,
    private readonly devices: DeviceRegistry,
    limits: DefinitionCacheLimits = DEFAULT_DEFINITION_CACHE_LIMITS,
  ) {
    this.definitions = new LRUCache({ maxSize: limits.definitionBytes, sizeCalculation: definitionWeight });
    this.modules = new LRUCache({ maxSize: limits.moduleBytes, sizeCalculation: (bytes) => Math.max(1, bytes.length) });
  }

  /** The definition of `processId`; rejects with not_found for an unknown process. */
  get(processId: string): Promise<ProcessDefinition> {
    const cached = this.definitions.get(processId);
    if (cached !== undefined) return Promise.resolve(cached);
    let pending = this.loading.get(processId);
    if (pending === undefined) {
      pending = this.load(processId).finally(() => this.loading.delete(processId));
      this.loading.set(processId, pending);
    }
    return pending;
  }

  private async load(processId: string): Promise<ProcessDefinition> {
    const spawn = await this.store.getProcess(processId);
    if (spawn === undefined) throw notFound(`process ${processId} not found`);
    const name = spawn.tags[DEVICE_TAG] ?? "";
    const device = this.devices.get(name);
    if (device === undefined) {
      throw new ProcworkerError("internal", `process ${processId} names device ${name}, which this server lacks`);
    }
    const definition: ProcessDefinition = { processId, spawn, device };
    if (device.needsModule) definition.module = this.moduleSource(processId, spawn.tags[MODULE_TAG] ?? "");
    this.definitions.set(processId, definition);
    return definition;
  }

  /** The module `moduleId`, read through the module cache only when a device asks. */
  private moduleSource(processId: string, moduleId: string): ModuleSource {
    return {
      id: moduleId,
      bytes: async () => {
        let bytes = this.modules.get(moduleId);
        if (bytes === undefined) {
          bytes = await this.store.getModule(moduleId);
          if (bytes === undefined) {
            throw new ProcworkerError("internal", `module ${moduleId} of process ${processId} is missing`);
          }
          this.modules.set(moduleId, bytes);
        }
        return bytes;
      },
    };
  }
}
