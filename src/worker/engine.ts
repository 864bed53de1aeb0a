/**
 * The engine: everything a client can ask of procworker, before any transport. A thin front
 * that checks requests and hands them on: spawn and schedule to the process layer; Await,
 * Compute and Subscribe to the process's hub, which decides what its workers must compute
 * (eager compute); Stop and ListWorkers to the worker registry. Results and worker ends come
 * up from the workers through one sink, the hubs (docs/design.md §2–§3).
 */
import { cappedSignal } from "../core/abort.js";
import type { Config } from "../core/config.js";
import { excerpt, invalidArgument, ShuttingDownError, SlotNotScheduledError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import { isId, type Message } from "../core/message.js";
import type { SlotResult } from "../core/result.js";
import type { DeviceRegistry } from "../device/registry.js";
import { DEFAULT_DEFINITION_CACHE_LIMITS } from "../process/definition.js";
import { Processes } from "../process/processes.js";
import type { ScheduleEntry, Store } from "../store/store.js";
import { Changes } from "./changes.js";
import { groupOf, type Group } from "./group.js";
import { ProcessHubs } from "./hubs.js";
import { DEFAULT_STREAM_WINDOW_BYTES, RecentResults } from "./recent-results.js";
import { singleNode, type Ownership, type SignalListener, type Signals } from "../core/cluster.js";
import { WorkerRegistry } from "./registry.js";
import type { SlotStream } from "./result-stream.js";
import { DRY_RUN_PATH, dryRun as runDryRun } from "./dry-run.js";
import { isListed, remoteWorkerStatus, workerStatus, type ProcessStatus, type WorkerStatus } from "./status.js";

/** The options the engine reads (a subset of the server Config). */
export type EngineConfig = Pick<
  Config,
  | "processWorkers"
  | "processWorkerMaxIdle"
  | "snapshotInterval"
  | "snapshotKeep"
  | "maxWorkerBytes"
  | "maxAwaitMs"
  | "subscriberBuffer"
  | "subscriberStallMs"
> &
  Partial<Pick<Config, "definitionCacheBytes" | "moduleCacheBytes" | "streamWindowBytes">> & { batchSlots?: number };

export interface EngineOptions {
  store: Store;
  devices: DeviceRegistry;
  logger: Logger;
  config: EngineConfig;
  /** Who may compute a process; default: this node, always (one node). */
  ownership?: Ownership;
  /** Where this node announces schedules and results to other nodes; default: nowhere. */
  signals?: Signals;
  now?: () => number;
}

/** Scheduled entries read per store call while streaming a schedule. */
const SCHEDULE_PAGE = 256;

/** Slots computed per device call (and per durable result write) unless configured; the
 * default snapshot interval is a multiple, so a catch-up writes one batch per interval. */
export const DEFAULT_BATCH_SLOTS = 1024;

/** How a Compute or Subscribe stream delivers. */
export interface StreamOptions {
  /** Results read back from the store come in its encoding (EncodedResult), for a consumer
   * that only sends them on (gRPC); live ones are SlotResults either way. */
  encoded?: boolean;
}

/** Delays before trying again to start a worker that could not run: after a failure before
 * any progress (store down), 250 ms doubling to 5 s; while another node owns the process,
 * every 500 ms, so a dead owner's processes are taken over within about a second. Each with
 * ±50% jitter. */
const RETRY_MS = { first: 250, max: 5_000, follow: 500 };

export class Engine implements SignalListener {
  readonly processes: Processes;
  /** Notified when callers attach or leave and when workers change state: lets tests and
   * operators wait for a state without polling. */
  readonly changes = new Changes();
  private readonly hubs: ProcessHubs;
  private readonly registry: WorkerRegistry;
  private readonly ownership: Ownership;
  private readonly signals: Signals;
  private readonly computeGroup: (processId: string, slot: bigint | undefined) => Group;
  private draining = false;
  private closing: Promise<void> | undefined;
  /** This node's address, as ListWorkers and GetProcess report it; set once the server has
   * bound its port. */
  nodeAddress = "";

  constructor(private readonly opts: EngineOptions) {
    const { config, logger } = opts;
    this.processes = new Processes({
      store: opts.store,
      devices: opts.devices,
      logger,
      snapshotInterval: config.snapshotInterval,
      snapshotKeep: config.snapshotKeep,
      cacheLimits: {
        definitionBytes: config.definitionCacheBytes ?? DEFAULT_DEFINITION_CACHE_LIMITS.definitionBytes,
        moduleBytes: config.moduleCacheBytes ?? DEFAULT_DEFINITION_CACHE_LIMITS.moduleBytes,
      },
      ...(opts.now ? { now: opts.now } : {}),
    });
    this.ownership = opts.ownership ?? singleNode.ownership;
    this.signals = opts.signals ?? singleNode.signals;
    const computeGroup = (processId: string, slot: bigint | undefined): Group =>
      groupOf({ processId, path: "compute", ...(slot !== undefined ? { slot } : {}) }, config.processWorkers);
    this.computeGroup = computeGroup;
    this.hubs = new ProcessHubs(
      {
        source: this.processes,
        dispatch: (processId, target) =>
          this.registry.dispatch(computeGroup(processId, target), processId, { kind: "compute", target }),
        groupOf: (processId, slot) => computeGroup(processId, slot).name,
        ...(opts.signals ? { prepare: (processId: string) => this.processes.prepare(processId) } : {}),
        logger,
        changes: this.changes,
        recent: new RecentResults(config.streamWindowBytes ?? DEFAULT_STREAM_WINDOW_BYTES),
        retryMs: RETRY_MS,
      },
      this.signals,
    );
    this.registry = new WorkerRegistry({
      processes: this.processes,
      ownership: this.ownership,
      sink: this.hubs,
      logger,
      changes: this.changes,
      maxIdleMs: config.processWorkerMaxIdle,
      batchSlots: config.batchSlots ?? DEFAULT_BATCH_SLOTS,
      maxWorkerBytes: config.maxWorkerBytes,
    });
  }

  /** Defines a process (idempotent); returns its id. */
  async spawn(spawn: Message, moduleBytes?: Uint8Array): Promise<string> {
    this.checkOpen();
    return this.processes.spawn(spawn, moduleBytes);
  }

  /** Appends messages durably and atomically, then computes eagerly for anyone waiting. */
  async schedule(processId: string, messages: Message[]): Promise<ScheduleEntry[]> {
    this.checkOpen();
    checkProcessId(processId);
    const entries = await this.processes.schedule(processId, messages);
    const last = entries[entries.length - 1];
    if (last !== undefined) {
      this.hubs.scheduled(processId, last.slot);
      this.signals.scheduled(processId, last.slot);
      if (this.opts.signals !== undefined) this.computeIfOwned(processId, last.slot);
    }
    return entries;
  }

  /** Another node scheduled slots of `processId` up to `latest` (cluster): callers here may
   * want them, and if this node owns the process it computes them (computeIfOwned). */
  scheduledElsewhere(processId: string, latest: bigint): void {
    if (this.draining) return;
    this.hubs.scheduled(processId, latest);
    this.computeIfOwned(processId, latest);
  }

  /** In a cluster, the node whose worker owns a process computes every slot scheduled for
   * it, wherever it was scheduled: callers on other nodes cannot compute what it owns. */
  private computeIfOwned(processId: string, latest: bigint): void {
    for (const worker of this.registry.workersOf(processId)) {
      if (worker.group !== processId || !worker.accepting) continue; // the process's own worker only
      this.registry.dispatch(this.computeGroup(processId, latest), processId, { kind: "compute", target: latest });
    }
  }

  /** Another node computed slots of `processId` up to `to` (cluster): callers here get them. */
  computedElsewhere(processId: string, to: bigint): void {
    if (!this.draining) this.hubs.computedElsewhere(processId, to);
  }

  /** Signals may have been missed (cluster): every caller here catches up with the store. */
  resync(): void {
    if (!this.draining) this.hubs.resync();
  }

  /** This node lost the ownership of every process (cluster): its workers stop at once,
   * without a snapshot and failing nobody; callers go on as followers. */
  disownAll(): Promise<void> {
    return this.registry.disownAll();
  }

  /** The group a request maps to (HyperBEAM's `group/3`); NOT_FOUND for an unknown process. */
  async group(processId: string, path: string, slot?: bigint): Promise<Group> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    return groupOf({ processId, path, ...(slot !== undefined ? { slot } : {}) }, this.opts.config.processWorkers);
  }

  /**
   * Computes up to `slot` (default: the latest scheduled) and streams every slot from the
   * first one not yet computed up to the target, in order; an already computed target
   * streams just its stored result. OUT_OF_RANGE past the schedule. The stream fails with
   * the leader-death error if its worker dies, and with DEADLINE_EXCEEDED when no result
   * comes for max_await_ms and the caller set no deadline of its own. `encoded`: results
   * read back from the store are delivered in its encoding (EncodedResult).
   */
  async compute(
    processId: string,
    slot: bigint | undefined,
    hasDeadline = false,
    { encoded = false }: StreamOptions = {},
  ): Promise<SlotStream> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    const hub = this.hubs.hubFor(processId);
    const stream = hub.openStream({
      from: 0n,
      boundLater: true,
      buffer: this.opts.config.subscriberBuffer,
      stallMs: this.opts.config.subscriberStallMs,
      leaderBound: true,
      encoded,
      ...(hasDeadline ? {} : { maxWaitMs: this.opts.config.maxAwaitMs }),
    });
    try {
      await hub.ready;
      const target = slot ?? hub.scheduledSlot;
      if (target > hub.scheduledSlot) {
        // In a cluster another node may have scheduled it a moment ago: ask the store.
        hub.scheduled(await this.processes.latestScheduledSlot(processId));
        if (target > hub.scheduledSlot) throw new SlotNotScheduledError(processId, target, hub.scheduledSlot);
      }
      const computed = hub.computedSlot;
      const from = computed === undefined ? 0n : computed >= target ? target : computed + 1n;
      stream.bound(from, target);
      hub.computeFor(stream);
      return stream;
    } catch (error) {
      stream.close();
      throw error;
    }
  }

  /**
   * The result of `slot` (undefined: the next slot to complete). A stored result returns at
   * once; otherwise the caller waits, and the slot is computed as soon as it is scheduled.
   * Every wait ends: by the signal, by max_await_ms, or by the leader-death error.
   */
  async await(
    processId: string,
    slot: bigint | undefined,
    signal?: AbortSignal | (() => AbortSignal),
  ): Promise<SlotResult> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    if (slot !== undefined) {
      const stored = await this.processes.result(processId, slot);
      if (stored !== undefined) return stored;
    }
    const { maxAwaitMs } = this.opts.config;
    // A signal given as a function is made only now, when the caller has to wait.
    const parent = typeof signal === "function" ? signal() : signal;
    const capped = cappedSignal(parent, maxAwaitMs, `no result within max_await_ms (${maxAwaitMs} ms)`);
    try {
      const wait = this.hubs.hubFor(processId).wait(slot, capped.signal);
      if (slot !== undefined) {
        // It may have been stored between the first look and joining the waiters.
        this.processes.result(processId, slot).then(
          (stored) => stored !== undefined && wait.settle(stored),
          (error: unknown) => wait.fail(error instanceof Error ? error : new Error(String(error))),
        );
      }
      return await wait.result;
    } finally {
      capped.dispose();
    }
  }

  /** Every result from `fromSlot` on, stored ones first, then live ones, each once and in
   * order. The subscription belongs to the process and outlives any worker. `encoded` as
   * for compute. */
  async subscribe(processId: string, fromSlot: bigint, { encoded = false }: StreamOptions = {}): Promise<SlotStream> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    const hub = this.hubs.hubFor(processId);
    const stream = hub.openStream({
      from: fromSlot,
      buffer: this.opts.config.subscriberBuffer,
      stallMs: this.opts.config.subscriberStallMs,
      leaderBound: false,
      encoded,
    });
    hub.computeFor(stream);
    return stream;
  }

  /** Stops the process's worker (the slot in progress finishes; a snapshot unless
   * `skipSnapshot`). `stopped`: one was running; `atSlot`: the latest computed slot, if any. */
  async stop(processId: string, skipSnapshot = false): Promise<{ stopped: boolean; atSlot: bigint | undefined }> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    const count = await this.registry.stopProcess(processId, !skipSnapshot);
    return { stopped: count > 0, atSlot: await this.processes.latestResultSlot(processId) };
  }

  /** The live workers. */
  listWorkers(): WorkerStatus[] {
    return this.registry
      .list()
      .filter(isListed)
      .map((w) => workerStatus(w, this.hubs.get(w.processId), this.nodeAddress));
  }

  /** A process's definition, latest slots and live worker; NOT_FOUND for an unknown one. */
  async getProcess(processId: string): Promise<ProcessStatus> {
    this.checkOpen();
    checkProcessId(processId);
    const definition = await this.processes.definition(processId);
    const [latestScheduledSlot, latestComputedSlot, latestSnapshotSlot] = await Promise.all([
      this.processes.latestScheduledSlot(processId),
      this.processes.latestResultSlot(processId),
      this.processes.latestSnapshotSlot(processId),
    ]);
    const worker = this.registry.workersOf(processId).find(isListed);
    return {
      processId,
      spawn: definition.spawn,
      device: definition.device.name,
      latestScheduledSlot,
      latestComputedSlot,
      latestSnapshotSlot,
      worker:
        worker !== undefined
          ? workerStatus(worker, this.hubs.get(processId), this.nodeAddress)
          : await this.remoteWorker(processId),
    };
  }

  /** The worker of `processId` on another node (cluster), if one holds its lock. */
  private async remoteWorker(processId: string): Promise<WorkerStatus | undefined> {
    const node = await this.ownership.ownerOf(processId);
    if (node === undefined || node === this.nodeAddress) return undefined;
    return remoteWorkerStatus(processId, this.hubs.get(processId), node);
  }

  /** The scheduled entries from `fromSlot` to `toSlot` (default: the latest), in slot
   * order, read from the store page by page as the consumer takes them. */
  async readSchedule(processId: string, fromSlot: bigint, toSlot?: bigint): Promise<AsyncIterable<ScheduleEntry>> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    if (toSlot !== undefined && toSlot < fromSlot) {
      throw invalidArgument(`to_slot ${toSlot} is below from_slot ${fromSlot}`);
    }
    const last = toSlot ?? (await this.processes.latestScheduledSlot(processId));
    const processes = this.processes;
    return (async function* () {
      let next = fromSlot;
      while (next <= last) {
        const page = await processes.readSchedule(processId, next, last, SCHEDULE_PAGE);
        if (page.length === 0) return;
        yield* page;
        next = (page[page.length - 1] as ScheduleEntry).slot + 1n;
      }
    })();
  }

  /**
   * Evaluates `message` against the process's state after its latest scheduled slot
   * (computed first if needed) without scheduling it or keeping its effects. It runs in turn
   * with the process's worker (never on a half-computed state); on a node that does not own
   * the process (cluster), against the latest stored state restored here. Ends by the
   * signal or max_await_ms like Await.
   */
  async dryRun(processId: string, message: Message, signal?: AbortSignal): Promise<SlotResult> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    const group = groupOf({ processId, path: DRY_RUN_PATH }, this.opts.config.processWorkers);
    const deps = {
      processes: this.processes,
      registry: this.registry,
      maxAwaitMs: this.opts.config.maxAwaitMs,
      checkOpen: () => this.checkOpen(),
    };
    return runDryRun(deps, group, processId, message, signal);
  }

  /** Live workers and the state bytes they hold (O(1), for metrics). */
  workerTotals(): { workers: number; stateBytes: number } {
    return { workers: this.registry.size, stateBytes: this.registry.stateBytes };
  }

  /** Resolves once no worker is live. */
  settled(): Promise<void> {
    return this.registry.settled();
  }

  /** Callers still attached (waiters and streams), for leak checks and metrics. */
  attached(): { waiters: number; streams: number; hubs: number } {
    return this.hubs.attached();
  }

  /** First half of shutdown: refuse new work and end every wait and stream with
   * UNAVAILABLE. Workers keep their state until `close`. Idempotent. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.hubs.failAll(new ShuttingDownError());
  }

  /** Graceful shutdown: drain, then snapshot every live worker and close the devices and
   * the store. Idempotent. */
  close(): Promise<void> {
    this.drain();
    this.closing ??= (async () => {
      await this.registry.stopAll(true);
      await this.opts.devices.close();
      await this.opts.store.close();
    })();
    return this.closing;
  }

  /** True once shutdown has begun. */
  get closed(): boolean {
    return this.draining;
  }

  private checkOpen(): void {
    if (this.draining) throw new ShuttingDownError();
  }
}

/** Rejects process ids that are not ids at all (INVALID_ARGUMENT, not NOT_FOUND). */
function checkProcessId(processId: string): void {
  if (!isId(processId))
    throw invalidArgument(`process id ${excerpt(processId)} is not an id (43 base64url characters)`);
}
