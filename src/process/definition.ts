/**
 * A process's definition as the compute path needs it: the spawn message, the device that
 * runs it and (for wasm@1.0) its module bytes. Loaded once per process and cached, so a
 * worker's restart costs no extra reads.
 */
import { notFound, ProcworkerError } from "../core/errors.js";
import type { Message } from "../core/message.js";
import type { Device } from "../device/device.js";
import type { DeviceRegistry } from "../device/registry.js";
import type { Store } from "../store/store.js";
import { Lru } from "../core/lru.js";

/** The tag that names a process's device. */
export const DEVICE_TAG = "Execution-Device";
/** The tag that names a process's module (wasm@1.0). */
export const MODULE_TAG = "Module";

export interface ProcessDefinition {
  processId: string;
  spawn: Message;
  device: Device;
  module?: Uint8Array;
}

/** Definitions cached (least recently used beyond this are dropped and reloaded on demand). */
const MAX_DEFINITIONS = 10_000;
/** Module bytes cached, in total (a module's weight is its size). */
const MAX_MODULE_BYTES = 256 * 1024 * 1024;

/** Caches definitions by process id (unknown processes are not cached) and module bytes by
 * module id, so processes that share a module share one copy of its bytes. Both caches are
 * bounded, so memory does not grow with the number of processes a server has seen. */
export class DefinitionCache {
  private readonly byId = new Lru<string, Promise<ProcessDefinition>>(MAX_DEFINITIONS);
  private readonly modules = new Lru<string, Uint8Array>(MAX_MODULE_BYTES);

  constructor(
    private readonly store: Store,
    private readonly devices: DeviceRegistry,
  ) {}

  /** The definition of `processId`; rejects with not_found for an unknown process. */
  get(processId: string): Promise<ProcessDefinition> {
    let found = this.byId.get(processId);
    if (found === undefined) {
      found = this.load(processId);
      this.byId.set(processId, found);
      found.catch(() => this.byId.delete(processId));
    }
    return found;
  }

  private async load(processId: string): Promise<ProcessDefinition> {
    const spawn = await this.store.getProcess(processId);
    if (spawn === undefined) throw notFound(`process ${processId} not found`);
    const name = spawn.tags[DEVICE_TAG] ?? "";
    const device = this.devices.get(name);
    if (device === undefined) {
      throw new ProcworkerError("internal", `process ${processId} names device ${name}, which this server lacks`);
    }
    if (!device.needsModule) return { processId, spawn, device };
    const moduleId = spawn.tags[MODULE_TAG] ?? "";
    let module = this.modules.get(moduleId);
    if (module === undefined) {
      module = await this.store.getModule(moduleId);
      if (module !== undefined) this.modules.set(moduleId, module, module.byteLength);
    }
    if (module === undefined)
      throw new ProcworkerError("internal", `module ${moduleId} of process ${processId} is missing`);
    return { processId, spawn, device, module };
  }
}
