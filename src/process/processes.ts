/**
 * The process layer's face (HyperBEAM's dev_process + its cache): spawn, schedule, read
 * results and restore a runtime. It knows nothing of workers or gRPC; the worker layer
 * drives it, and it drives the device and the store.
 */
import { invalidArgument } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { Message } from "../core/message.js";
import { MAX_SLOT, type SlotResult } from "../core/result.js";
import type { DeviceRegistry } from "../device/registry.js";
import type { EncodedResult, ScheduleEntry, Store } from "../store/store.js";
import { DefinitionCache, type DefinitionCacheLimits, type ProcessDefinition } from "./definition.js";
import { ProcessRuntime } from "./runtime.js";
import { spawnProcess } from "./spawn.js";

export interface ProcessesOptions {
  store: Store;
  devices: DeviceRegistry;
  logger: Logger;
  snapshotInterval: number;
  snapshotKeep: number;
  /** Bounds of the definition and module caches (default: DEFAULT_DEFINITION_CACHE_LIMITS). */
  cacheLimits?: DefinitionCacheLimits;
  now?: () => number;
}

export class Processes {
  readonly store: Store;
  private readonly definitions: DefinitionCache;

  constructor(private readonly opts: ProcessesOptions) {
    this.store = opts.store;
    this.definitions = new DefinitionCache(opts.store, opts.devices, opts.cacheLimits);
  }

  /** Stores a process (idempotent) and returns its id; see spawn.ts. */
  spawn(spawn: Message, moduleBytes?: Uint8Array): Promise<string> {
    return spawnProcess({ store: this.opts.store, devices: this.opts.devices, now: this.now }, spawn, moduleBytes);
  }

  /** Appends messages to a process's schedule in one atomic, durable write. Resolves
   * (acknowledges) only once they are durable. */
  async schedule(processId: string, messages: Message[]): Promise<ScheduleEntry[]> {
    if (messages.length === 0) throw invalidArgument("schedule needs at least one message");
    await this.definitions.get(processId);
    return this.opts.store.appendSchedule(processId, messages, this.now());
  }

  /** The definition of a process; rejects with not_found for an unknown one. */
  definition(processId: string): Promise<ProcessDefinition> {
    return this.definitions.get(processId);
  }

  /** The highest scheduled slot of a known process. */
  async latestScheduledSlot(processId: string): Promise<bigint> {
    return (await this.opts.store.latestScheduledSlot(processId)) ?? 0n;
  }

  /** The highest slot with a stored result, or undefined. */
  latestResultSlot(processId: string): Promise<bigint | undefined> {
    return this.opts.store.latestResultSlot(processId);
  }

  /** The slot of the latest snapshot, or undefined. */
  latestSnapshotSlot(processId: string): Promise<bigint | undefined> {
    return this.opts.store.latestSnapshotSlot(processId, MAX_SLOT);
  }

  /** Scheduled entries from `fromSlot` to `toSlot`, at most `limit`. */
  readSchedule(processId: string, fromSlot: bigint, toSlot: bigint, limit: number): Promise<ScheduleEntry[]> {
    return this.opts.store.readSchedule(processId, fromSlot, toSlot, limit);
  }

  /** The stored result of a slot, or undefined. */
  result(processId: string, slot: bigint): Promise<SlotResult | undefined> {
    return this.opts.store.getResult(processId, slot);
  }

  /** Stored results from `fromSlot` to `toSlot`, at most `limit`. */
  results(processId: string, fromSlot: bigint, toSlot: bigint, limit: number): Promise<SlotResult[]> {
    return this.opts.store.readResults(processId, fromSlot, toSlot, limit);
  }

  /** Stored results from `fromSlot` to `toSlot`, at most `limit`, left encoded. */
  encodedResults(processId: string, fromSlot: bigint, toSlot: bigint, limit: number): Promise<EncodedResult[]> {
    return this.opts.store.readEncodedResults(processId, fromSlot, toSlot, limit);
  }

  /** Readies the device for `processId` (see Device.prepare); nothing when it has nothing to
   * ready. For a node that follows a process another node owns. */
  async prepare(processId: string): Promise<void> {
    const { device, spawn, module } = await this.definitions.get(processId);
    await device.prepare?.({ processId, spawn, ...(module ? { module } : {}) });
  }

  /** A runtime holding the state after the latest stored result. */
  async restore(processId: string): Promise<ProcessRuntime> {
    const definition = await this.definitions.get(processId);
    return ProcessRuntime.restore(
      {
        store: this.opts.store,
        snapshotInterval: BigInt(this.opts.snapshotInterval),
        snapshotKeep: this.opts.snapshotKeep,
        logger: this.opts.logger,
      },
      definition,
    );
  }

  private readonly now = (): number => (this.opts.now ?? Date.now)();
}
