/**
 * A worker (the seed's `server/3`): the one loop that owns a group's process state. It
 * takes compute requests from its mailbox in order, computes slot by slot up to each
 * target, and hands every stored result to `notifyCompute`. Idle for `maxIdleMs`, it
 * snapshots and retires; stopped, it lets the slot in progress finish, snapshots (unless
 * told not to) and ends. Its computation calls the process layer directly, never the
 * registry (the seed's ServerOpts), so nothing it does can wait on itself.
 */
import type { Logger } from "../core/log.js";
import type { SlotResult } from "../core/result.js";
import type { Processes } from "../process/processes.js";
import type { ProcessRuntime } from "../process/runtime.js";
import { Mailbox } from "./mailbox.js";

/**
 * - starting: restoring its state from the store;
 * - running: taking requests;
 * - retiring: idle (or evicted), writing its snapshot before it leaves;
 * - stopped: ended by Stop or shutdown;
 * - failed: ended by an error (store or device instance failure).
 */
export type WorkerState = "starting" | "running" | "retiring" | "stopped" | "failed";

/** A request to compute the group's process up to `target`. */
export interface ComputeRequest {
  target: bigint;
}

/** How a worker's loop ended. Retired workers may leave requests for a successor. */
export type WorkerExit =
  { kind: "retired"; leftovers: ComputeRequest[] } | { kind: "stopped" } | { kind: "failed"; error: unknown };

export interface WorkerOptions {
  group: string;
  processId: string;
  processes: Processes;
  logger: Logger;
  /** ms without a request before retiring (the seed's process_worker_max_idle). */
  maxIdleMs: number;
  /** false: a one-shot worker (process_workers off) that ends once its mailbox is empty. */
  persistent: boolean;
  /** Most slots per device call (the batch adapts below it, see BATCH_TARGET_MS). */
  batchSlots: number;
  /** Called after each stored result; returns how many waiters were notified. */
  notifyCompute: (result: SlotResult) => number;
  /** Called after each batch (the registry checks the memory cap). */
  onProgress: (worker: Worker) => void;
}

/** A batch is sized so that one device call takes about this long: long enough to amortise
 * the call and the durable write, short enough that Stop (which waits for the batch in
 * progress) and the first waiter's notification are not held back by slow slots. */
export const BATCH_TARGET_MS = 50;
const FIRST_BATCH = 1;

export class Worker {
  readonly group: string;
  readonly processId: string;
  private stateValue: WorkerState = "starting";
  private readonly mailbox = new Mailbox<ComputeRequest>();
  private runtime: ProcessRuntime | undefined;
  private stopping: { snapshot: boolean } | undefined;
  private evicting = false;
  private busy = false;
  private lastActive = Date.now();
  private computedSlots = 0;
  private batch = FIRST_BATCH;
  /** Resolves with how the loop ended; never rejects. */
  readonly done: Promise<WorkerExit>;

  constructor(private readonly opts: WorkerOptions) {
    this.group = opts.group;
    this.processId = opts.processId;
    this.done = this.run();
  }

  /** The lifecycle state (see WorkerState). */
  get state(): WorkerState {
    return this.stateValue;
  }

  /** The last computed slot, if any. */
  get atSlot(): bigint | undefined {
    return this.runtime?.slot;
  }

  /** Requests waiting in the mailbox. */
  get mailboxSize(): number {
    return this.mailbox.size;
  }

  /** ms since the worker last finished or received work. */
  get idleMs(): number {
    return this.busy ? 0 : Math.max(0, Date.now() - this.lastActive);
  }

  /** True when it computes nothing and has nothing queued: it may be evicted. */
  get idle(): boolean {
    return this.stateValue === "running" && !this.busy && this.mailbox.size === 0;
  }

  /** Slots this worker computed (not counting restore replays). */
  get slotsComputed(): number {
    return this.computedSlots;
  }

  /** Bytes its state holds. */
  stateBytes(): number {
    return this.runtime?.stateBytes() ?? 0;
  }

  /** True while it still takes requests (a retiring worker passes them to its successor). */
  get accepting(): boolean {
    if (this.stopping !== undefined) return false;
    return this.stateValue === "starting" || this.stateValue === "running" || this.stateValue === "retiring";
  }

  /** Queues a compute request. */
  submit(request: ComputeRequest): void {
    this.lastActive = Date.now();
    this.mailbox.put(request);
  }

  /** Asks the loop to stop after the slot in progress; resolves when it has ended. */
  async stop(snapshot: boolean): Promise<WorkerExit> {
    this.stopping ??= { snapshot };
    this.mailbox.interrupt();
    return this.done;
  }

  /** Asks an idle worker to snapshot and retire now (memory cap). */
  evict(): void {
    this.evicting = true;
    this.mailbox.interrupt();
  }

  private async run(): Promise<WorkerExit> {
    const { group, logger } = this.opts;
    try {
      this.runtime = await this.opts.processes.restore(this.processId);
      if (this.stateValue === "starting") this.stateValue = "running";
      for (;;) {
        if (this.stopping) return await this.close(this.runtime);
        logger.debug({ event: "waiting_for_req", group }, "waiting_for_req");
        const idleMs = this.opts.persistent && !this.evicting ? this.opts.maxIdleMs : 0;
        const request = this.evicting ? undefined : await this.mailbox.take(idleMs);
        if (this.stopping) return await this.close(this.runtime);
        if (request === undefined) return await this.retire(this.runtime);
        logger.debug({ event: "work_received", group, slot: request.target.toString() }, "work_received");
        await this.computeTo(this.runtime, request.target);
        logger.debug(
          { event: "work_done", group, slot: request.target.toString(), at: this.runtime.slot?.toString() },
          "work_done",
        );
      }
    } catch (error) {
      this.stateValue = "failed";
      logger.error({ event: "worker_failed", group, err: error }, "worker failed");
      await this.runtime?.close().catch(() => undefined);
      return { kind: "failed", error };
    }
  }

  private async computeTo(runtime: ProcessRuntime, target: bigint): Promise<void> {
    this.busy = true;
    this.batch = FIRST_BATCH; // every request starts with one slot, then ramps up while slots are fast
    try {
      while (runtime.nextSlot <= target && !this.stopping) {
        const started = Date.now();
        const results = await runtime.computeBatch(target, Math.min(this.batch, this.opts.batchSlots));
        this.adaptBatch(results.length, Date.now() - started);
        this.computedSlots += results.length;
        for (const result of results) this.opts.notifyCompute(result);
        this.opts.onProgress(this);
      }
    } finally {
      this.busy = false;
      this.lastActive = Date.now();
    }
  }

  /** Doubles the batch while batches are fast; shrinks it to fit BATCH_TARGET_MS when slow. */
  private adaptBatch(slots: number, elapsedMs: number): void {
    if (slots < this.batch) return; // cut short by the target or a snapshot boundary: no signal
    if (elapsedMs > BATCH_TARGET_MS) this.batch = Math.max(1, Math.floor((slots * BATCH_TARGET_MS) / elapsedMs));
    else this.batch = Math.min(this.batch * 2, this.opts.batchSlots);
  }

  /** Idle (or evicted): snapshot, then leave; requests that came meanwhile go to a successor. */
  private async retire(runtime: ProcessRuntime): Promise<WorkerExit> {
    this.stateValue = "retiring";
    if (this.opts.persistent || this.computedSlots > 0) await runtime.snapshot();
    await runtime.close();
    this.stateValue = "stopped";
    this.opts.logger.debug({ event: "stopping", group: this.group, slot: runtime.slot?.toString() }, "stopping");
    return { kind: "retired", leftovers: this.mailbox.drain() };
  }

  /** Stopped: snapshot unless told not to; queued requests are dropped (their callers fail). */
  private async close(runtime: ProcessRuntime): Promise<WorkerExit> {
    this.stateValue = "retiring";
    if (this.stopping?.snapshot !== false) await runtime.snapshot();
    await runtime.close();
    this.mailbox.drain();
    this.stateValue = "stopped";
    this.opts.logger.debug({ event: "stopping", group: this.group, slot: runtime.slot?.toString() }, "stopping");
    return { kind: "stopped" };
  }
}
