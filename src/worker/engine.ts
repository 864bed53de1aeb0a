/**
 * The engine: everything a client can ask of procworker, before any transport. It groups
 * requests (the seed's `group/3`), routes compute work to workers, lets callers wait for
 * slots (`await`) and stream them, computes eagerly while anyone waits (DESIGN §2.7), and
 * turns a worker's death into the retryable leader-death error for its waiters.
 */
import { cappedSignal } from "../core/abort.js";
import type { Config } from "../core/config.js";
import { invalidArgument, ShuttingDownError, SlotNotScheduledError, WorkerStoppedError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import { isId, type Message } from "../core/message.js";
import type { SlotResult } from "../core/result.js";
import type { DeviceRegistry } from "../device/registry.js";
import { Processes } from "../process/processes.js";
import type { ScheduleEntry, Store } from "../store/store.js";
import { group as groupOf, type Group } from "./group.js";
import { Changes } from "./changes.js";
import { ProcessHub } from "./process-hub.js";
import { WorkerRegistry } from "./registry.js";
import type { Worker, WorkerExit, WorkerState } from "./worker.js";

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
> & { batchSlots?: number };

export interface EngineOptions {
  store: Store;
  devices: DeviceRegistry;
  logger: Logger;
  config: EngineConfig;
  now?: () => number;
}

/** One live worker, as ListWorkers shows it (the seed's monitor "sitrep"). */
export interface WorkerInfo {
  group: string;
  processId: string;
  atSlot: bigint | undefined;
  mailbox: number;
  waiters: number;
  subscribers: number;
  idleMs: number;
  stateBytes: number;
  state: WorkerState;
}

/** Slots computed per device call (and per durable result write) unless configured; the
 * default snapshot interval is a multiple, so a catch-up writes one batch per interval. */
export const DEFAULT_BATCH_SLOTS = 64;

export class Engine {
  readonly processes: Processes;
  /** Notified when callers attach or leave and when workers start, end or get work. */
  readonly changes = new Changes();
  private readonly registry: WorkerRegistry;
  private readonly hubs = new Map<string, ProcessHub>();
  private draining = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: EngineOptions) {
    const { config, logger } = opts;
    this.processes = new Processes({
      store: opts.store,
      devices: opts.devices,
      logger,
      snapshotInterval: config.snapshotInterval,
      snapshotKeep: config.snapshotKeep,
      ...(opts.now ? { now: opts.now } : {}),
    });
    this.registry = new WorkerRegistry({
      processes: this.processes,
      logger,
      maxIdleMs: config.processWorkerMaxIdle,
      batchSlots: config.batchSlots ?? DEFAULT_BATCH_SLOTS,
      maxWorkerBytes: config.maxWorkerBytes,
      notifyCompute: (worker, result) => this.hubs.get(worker.processId)?.notifyCompute(worker.group, result) ?? 0,
      onExit: (worker, exit) => this.workerEnded(worker, exit),
      onChange: () => this.changes.notify(),
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
    this.kick(processId);
    return entries;
  }

  /** The group a request maps to (§2.1); NOT_FOUND for an unknown process. */
  async group(processId: string, path: string, slot?: bigint): Promise<Group> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    return groupOf({ processId, path, ...(slot !== undefined ? { slot } : {}) }, this.opts.config.processWorkers);
  }

  /**
   * Computes up to `slot` (default: the latest scheduled) and yields every slot from the
   * first one not yet computed up to the target, in order; an already computed target
   * yields just its stored result. OUT_OF_RANGE past the schedule. The stream fails with the
   * leader-death error if its worker dies, and ends with DEADLINE_EXCEEDED when no result
   * comes for max_await_ms and the caller set no deadline of its own.
   */
  async compute(
    processId: string,
    slot: bigint | undefined,
    signal?: AbortSignal,
    hasDeadline = false,
  ): Promise<AsyncIterable<SlotResult>> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    const latest = await this.processes.latestScheduledSlot(processId);
    const target = slot ?? latest;
    if (target > latest) throw new SlotNotScheduledError(processId, target, latest);
    const stream = this.hubFor(processId).openStream({
      from: 0n,
      to: target,
      buffer: this.opts.config.subscriberBuffer,
      leaderBound: true,
      ...(signal ? { signal } : {}),
      ...(hasDeadline ? {} : { maxWaitMs: this.opts.config.maxAwaitMs }),
    });
    try {
      const computed = await this.processes.latestResultSlot(processId);
      if (computed !== undefined && computed >= target) {
        stream.close();
        const stored = await this.processes.result(processId, target);
        return (async function* () {
          if (stored !== undefined) yield stored;
        })();
      }
      stream.startAt(computed === undefined ? 0n : computed + 1n);
      this.kick(processId);
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
  async await(processId: string, slot: bigint | undefined, signal?: AbortSignal): Promise<SlotResult> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    const capped = cappedSignal(
      signal,
      this.opts.config.maxAwaitMs,
      `no result within max_await_ms (${this.opts.config.maxAwaitMs} ms)`,
    );
    try {
      const { result, settle } = this.hubFor(processId).wait(slot, capped.signal);
      if (slot !== undefined) {
        const stored = await this.processes.result(processId, slot);
        if (stored !== undefined) settle(stored);
      }
      this.kick(processId);
      return await result;
    } finally {
      capped.dispose();
    }
  }

  /** Every result from `fromSlot` on, stored ones first, then live ones, each once and in
   * order. The subscription belongs to the process and outlives any worker. */
  async subscribe(processId: string, fromSlot: bigint, signal?: AbortSignal): Promise<AsyncIterable<SlotResult>> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    const stream = this.hubFor(processId).openStream({
      from: fromSlot,
      buffer: this.opts.config.subscriberBuffer,
      leaderBound: false,
      ...(signal ? { signal } : {}),
    });
    this.kick(processId);
    return stream;
  }

  /** Stops the process's worker (§2.6). `stopped`: one was running; `atSlot`: the latest
   * computed slot, if any. */
  async stop(processId: string, skipSnapshot = false): Promise<{ stopped: boolean; atSlot: bigint | undefined }> {
    this.checkOpen();
    checkProcessId(processId);
    await this.processes.definition(processId);
    const count = await this.registry.stopProcess(processId, !skipSnapshot);
    return { stopped: count > 0, atSlot: await this.processes.latestResultSlot(processId) };
  }

  /** The live workers. */
  listWorkers(): WorkerInfo[] {
    return this.registry.list().map((w) => {
      const hub = this.hubs.get(w.processId);
      return {
        group: w.group,
        processId: w.processId,
        atSlot: w.atSlot,
        mailbox: w.mailboxSize,
        waiters: hub?.waiterCount ?? 0,
        subscribers: hub?.subscriberCount ?? 0,
        idleMs: w.idleMs,
        stateBytes: w.stateBytes(),
        state: w.state,
      };
    });
  }

  /** Resolves once no worker is live (see WorkerRegistry.settled). */
  settled(): Promise<void> {
    return this.registry.settled();
  }

  /** Callers still attached (waiters and streams), for leak checks and metrics. */
  attached(): { waiters: number; streams: number; hubs: number } {
    let waiters = 0;
    let streams = 0;
    for (const hub of this.hubs.values()) {
      waiters += hub.waiterCount;
      streams += hub.streamCount;
    }
    return { waiters, streams, hubs: this.hubs.size };
  }

  /** First half of shutdown: refuse new work and end every wait and stream with
   * UNAVAILABLE. Workers keep their state until `close`. Idempotent. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    const error = new ShuttingDownError();
    for (const hub of [...this.hubs.values()]) hub.failAll(error);
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

  private hubFor(processId: string): ProcessHub {
    let hub = this.hubs.get(processId);
    if (hub === undefined) {
      hub = new ProcessHub(
        processId,
        this.processes,
        this.opts.logger,
        (empty) => {
          if (this.hubs.get(processId) === empty) this.hubs.delete(processId);
          this.changes.notify();
        },
        () => this.changes.notify(),
      );
      this.hubs.set(processId, hub);
    }
    return hub;
  }

  /** Eager compute (§2.7): while callers wait, compute what they wait for that is scheduled. */
  private kick(processId: string): void {
    this.kickAsync(processId).catch((err: unknown) =>
      this.opts.logger.error({ event: "eager_compute_failed", processId, err }, "eager compute failed"),
    );
  }

  private async kickAsync(processId: string): Promise<void> {
    const hub = this.hubs.get(processId);
    if (hub === undefined || hub.empty || this.draining) return;
    const latest = await this.processes.latestScheduledSlot(processId);
    const interest = hub.interest();
    let target: bigint | undefined = interest.wantsLatest ? latest : undefined;
    for (const wanted of [interest.maxWaitedSlot, interest.maxStreamSlot]) {
      if (wanted === undefined) continue;
      const capped = wanted < latest ? wanted : latest;
      if (target === undefined || capped > target) target = capped;
    }
    if (target === undefined) return;
    const computed = await this.processes.latestResultSlot(processId);
    if ((computed !== undefined && computed >= target) || this.draining) return;
    const group = groupOf({ processId, path: "compute", slot: target }, this.opts.config.processWorkers);
    this.registry.dispatch(group, processId, { target });
  }

  private workerEnded(worker: Worker, exit: WorkerExit): void {
    if (this.draining) return;
    const hub = this.hubs.get(worker.processId);
    if (exit.kind === "stopped") hub?.failLeaderBound(new WorkerStoppedError(worker.group, "stopped"));
    if (exit.kind === "failed")
      hub?.failLeaderBound(new WorkerStoppedError(worker.group, "crashed", { cause: exit.error }));
    if (exit.kind !== "failed" || worker.slotsComputed > 0) this.kick(worker.processId);
  }

  private checkOpen(): void {
    if (this.draining) throw new ShuttingDownError();
  }
}

/** Rejects process ids that are not ids at all (INVALID_ARGUMENT, not NOT_FOUND). */
function checkProcessId(processId: string): void {
  if (!isId(processId))
    throw invalidArgument(`process id ${JSON.stringify(processId)} is not an id (43 base64url characters)`);
}
