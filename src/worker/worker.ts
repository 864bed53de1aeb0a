/**
 * A process worker (HyperBEAM's `server/3`): the one loop that owns a group's process state.
 * It takes work from its mailbox in order, computes slot by slot up to each target, and
 * publishes every stored batch of results to its sink. Idle for `maxIdleMs`, it snapshots
 * and retires; stopped, it lets the slot in progress finish, snapshots (unless told not to)
 * and ends. Its computation calls the process layer directly, never the registry (HyperBEAM's
 * ServerOpts: no await of itself, no spawning, no grouping), so nothing it does can
 * wait on itself. See docs/design.md §2 for the contract.
 */
import { ProcworkerError, WorkerStoppedError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { Message } from "../core/message.js";
import type { SlotResult } from "../core/result.js";
import type { Processes } from "../process/processes.js";
import type { ComputedBatch, ProcessRuntime } from "../process/runtime.js";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { Mailbox } from "./mailbox.js";
import type { Ownership } from "../core/cluster.js";

/**
 * Work for a worker, taken in mailbox order (HyperBEAM's `{resolve, …}`): compute the process
 * up to `target`, or compute up to `through` and then evaluate a message against that state
 * without keeping it (a dry run, which settles its caller itself). A dry run still queued when the worker stops fails
 * with the leader-death error.
 */
export type Work =
  | { kind: "compute"; target: bigint }
  | {
      kind: "dry_run";
      message: Message;
      /** Computed first: the latest scheduled slot when the dry run was accepted. */
      through: bigint;
      settle: (result: SlotResult) => void;
      fail: (error: Error) => void;
    };

/**
 * How a worker ended:
 * - retired: idle for `maxIdleMs` or evicted under the memory cap; its snapshot is written.
 *   Nobody is failed: whoever still waits gets a fresh worker.
 * - stopped: by Stop or shutdown. Waiters and Compute streams fail (leader death).
 * - failed: an error of the store or of the device instance. Waiters and Compute streams
 *   fail; `progressed` says whether it computed anything (a fresh worker is started at once
 *   only if it did, so a worker that cannot even restore does not spin).
 * - not_owner: another node owns the process (cluster mode); nothing was computed here.
 * - disowned: this node lost the process's ownership while computing (cluster mode).
 */
export type WorkerExit =
  | { kind: "retired"; reason: "idle" | "evicted" }
  | { kind: "stopped" }
  | { kind: "failed"; error: unknown; progressed: boolean }
  | { kind: "not_owner" }
  | { kind: "disowned" };

/**
 * The lifecycle, one state at a time (no flags beside it):
 * - acquiring: taking its process's ownership (in a cluster another node may hold it); not
 *   yet a worker anyone sees (ListWorkers leaves it out);
 * - starting: restoring its state from the store;
 * - idle: waiting for work (at most `maxIdleMs`);
 * - computing: working towards `target`;
 * - evaluating: running a dry run;
 * - stopping: asked to stop (or, `disowned`, to let go of a process this node no longer
 *   owns); the batch in progress finishes, then it snapshots (if `snapshot`);
 * - retiring: idle or evicted; writing its snapshot before it leaves;
 * - ended: gone from the registry; `exit` says how.
 */
export type WorkerState =
  | { name: "acquiring" }
  | { name: "starting" }
  | { name: "idle"; since: number }
  | { name: "computing"; target: bigint }
  | { name: "evaluating" }
  | { name: "stopping"; snapshot: boolean; exit: "stopped" | "disowned" }
  | { name: "retiring"; reason: "idle" | "evicted" }
  | { name: "ended"; exit: WorkerExit };

/** Where a worker publishes what it computed and how it ended. The engine's process hubs
 * implement it; a cluster adds results computed on other nodes through the same door. */
export interface WorkerSink {
  /** A batch of durably stored results of `processId`, in slot order. Returns how many
   * waiters were notified (HyperBEAM's `notify_compute` count). */
  computed(processId: string, group: string, results: SlotResult[]): number;
  /** The worker of `group` has ended and left the registry. */
  ended(processId: string, group: string, exit: WorkerExit): void;
}

/** What the registry learns from its workers: every state change and every batch (its
 * state bytes may have changed). Called before the sink hears of an end. */
export interface WorkerHost {
  changed(worker: ProcessWorker): void;
}

export interface WorkerOptions {
  group: string;
  processId: string;
  /** false: a one-shot worker (process_workers off) that ends once its mailbox is empty. */
  persistent: boolean;
  processes: Processes;
  ownership: Ownership;
  sink: WorkerSink;
  host: WorkerHost;
  logger: Logger;
  /** ms without work before retiring (HyperBEAM's process_worker_max_idle). */
  maxIdleMs: number;
  /** Most slots per device call (the batch adapts below it, see BATCH_TARGET_MS). */
  batchSlots: number;
}

/** A batch is sized so that one device call takes about this long: long enough to amortise
 * the call and the durable write, short enough that Stop (which waits for the batch in
 * progress) and the first waiter's notification are not held back by slow slots. */
export const BATCH_TARGET_MS = 50;
const FIRST_BATCH = 1;

/** A worker could not take its process: another node owns it. */
export class NotOwnerError extends ProcworkerError {
  constructor(readonly processId: string) {
    super("aborted", `process ${processId} is computed by another node`);
    this.name = "NotOwnerError";
  }
}

export class ProcessWorker {
  readonly group: string;
  readonly processId: string;
  private current: WorkerState = { name: "acquiring" };
  private readonly mailbox = new Mailbox<Work>();
  private runtime: ProcessRuntime | undefined;
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
    return this.current;
  }

  /** The last computed slot, if any. */
  get atSlot(): bigint | undefined {
    return this.runtime?.slot;
  }

  /** Work waiting in the mailbox. */
  get mailboxSize(): number {
    return this.mailbox.size;
  }

  /** Bytes its state holds (as the device instance reports them). */
  stateBytes(): number {
    return this.runtime?.stateBytes() ?? 0;
  }

  /** True while it takes work: a worker that is stopping, retiring or ended does not, and
   * whoever needs it waits for its end and starts a fresh one. */
  get accepting(): boolean {
    const name = this.current.name;
    return (
      name === "acquiring" || name === "starting" || name === "idle" || name === "computing" || name === "evaluating"
    );
  }

  /** Queues work (callers check `accepting` first). */
  submit(work: Work): void {
    this.mailbox.put(work);
  }

  /** Asks the loop to stop after the batch in progress; resolves when it has ended. A
   * `disowned` stop (this node lost the process's ownership) fails nobody: the callers go on
   * waiting for the new owner's results. */
  stop(snapshot: boolean, exit: "stopped" | "disowned" = "stopped"): Promise<WorkerExit> {
    if (this.accepting) {
      this.enter({ name: "stopping", snapshot, exit });
      this.mailbox.interrupt();
    }
    return this.done;
  }

  /** Asks an idle worker to snapshot and retire now (memory cap); ignored otherwise. */
  evict(): void {
    if (this.current.name !== "idle") return;
    this.enter({ name: "retiring", reason: "evicted" });
    this.mailbox.interrupt();
  }

  private async run(): Promise<WorkerExit> {
    const { ownership, processId } = this.opts;
    let exit: WorkerExit;
    let owned = false;
    try {
      owned = await ownership.acquire(processId);
      if (owned && this.current.name === "acquiring") this.enter({ name: "starting" });
      exit = owned ? await this.serve() : { kind: "not_owner" };
    } catch (error) {
      this.opts.logger.error({ event: "worker_failed", group: this.group, err: error }, "worker failed");
      exit = { kind: "failed", error, progressed: this.computedSlots > 0 };
    }
    this.failLeftovers(exit);
    // Gone from the registry before the lock is free: no moment with a worker listed on
    // two nodes.
    this.enter({ name: "ended", exit });
    if (owned) await ownership.release(processId).catch(() => undefined);
    this.opts.sink.ended(processId, this.group, exit);
    return exit;
  }

  private async serve(): Promise<WorkerExit> {
    const runtime = await this.opts.processes.restore(this.processId);
    this.runtime = runtime;
    try {
      for (;;) {
        const state = this.state;
        if (state.name === "stopping") return await this.stopNow(runtime, state.snapshot, state.exit);
        if (state.name === "retiring") return await this.retire(runtime, state.reason);
        // Idle only when there is nothing to take (an idle worker may be evicted).
        if (this.mailbox.size === 0) this.enter({ name: "idle", since: Date.now() });
        this.opts.logger.debug({ event: "waiting_for_req", group: this.group }, "waiting_for_req");
        const work = await this.mailbox.take(this.opts.persistent ? this.opts.maxIdleMs : 0);
        if (!this.accepting) continue; // stopped or evicted meanwhile: handled at the top
        if (work === undefined) {
          this.enter({ name: "retiring", reason: "idle" });
          continue;
        }
        if (work.kind === "dry_run") {
          await this.dryRun(runtime, work);
          continue;
        }
        this.opts.logger.debug(
          { event: "work_received", group: this.group, slot: work.target.toString() },
          "work_received",
        );
        this.enter({ name: "computing", target: work.target });
        await this.computeTo(runtime, work.target);
        this.opts.logger.debug(
          { event: "work_done", group: this.group, slot: work.target.toString(), at: runtime.slot?.toString() },
          "work_done",
        );
      }
    } catch (error) {
      await runtime.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Computes towards `target` batch by batch, one batch ahead of the store: while a batch's
   * durable write is in flight the next one is computed, and a batch is published only once
   * its write is durable. Stop (or anything that ends `computing`) takes effect after the
   * batch in progress; what was computed is still stored and published before this returns.
   */
  private async computeTo(runtime: ProcessRuntime, target: bigint): Promise<void> {
    this.batch = FIRST_BATCH; // every target starts with one slot, then ramps up while slots are fast
    let pending: ComputedBatch | undefined;
    try {
      // A batch already handed to the device is computed even if Stop came meanwhile.
      const goOn = (): boolean => this.state.name === "computing";
      while (runtime.nextSlot <= target && (goOn() || runtime.hasPosted)) {
        // Let I/O and other calls run between batches: a device that never waits (counter@1.0)
        // would otherwise hold the event loop for a whole catch-up.
        if (pending !== undefined) await yieldToEventLoop();
        const started = performance.now();
        let computedAt = started;
        const computing = runtime
          .computeAhead(target, Math.min(this.batch, this.opts.batchSlots), goOn)
          .then((batch) => ((computedAt = performance.now()), batch));
        computing.catch(() => undefined); // awaited below, maybe only after the publish
        if (pending !== undefined) {
          // The previous batch is published while this one computes (a device on its own
          // thread keeps computing meanwhile); a failed publish waits for the batch in
          // progress, so nothing runs on the instance once this returns.
          const published = pending;
          pending = undefined;
          await this.publish(published).catch(async (error: unknown) => {
            await computing.catch(() => undefined);
            throw error;
          });
        }
        const batch = await computing;
        this.adaptBatch(batch.results.length, batch.size, computedAt - started);
        pending = batch;
      }
    } catch (error) {
      // What was computed before the failure is durable or on its way: publish it if it is.
      if (pending !== undefined) await this.publish(pending).catch(() => undefined);
      throw error;
    }
    if (pending !== undefined) await this.publish(pending);
  }

  /** Publishes a batch once its write is durable (never before: docs/design.md §2.10). */
  private async publish(batch: ComputedBatch): Promise<void> {
    await batch.stored;
    if (batch.results.length === 0) return;
    this.computedSlots += batch.results.length;
    this.opts.sink.computed(this.processId, this.group, batch.results);
    this.opts.host.changed(this);
  }

  /** Computes up to the dry run's `through` slot, then runs it against that state. A failure
   * of the instance itself fails the dry run and then the worker. */
  private async dryRun(runtime: ProcessRuntime, work: Extract<Work, { kind: "dry_run" }>): Promise<void> {
    if (runtime.nextSlot <= work.through) {
      this.enter({ name: "computing", target: work.through });
      await this.computeTo(runtime, work.through);
      if (!this.accepting) return work.fail(new WorkerStoppedError(this.group, "stopped"));
    }
    this.enter({ name: "evaluating" });
    try {
      work.settle(await runtime.dryRun(work.message));
    } catch (error) {
      work.fail(new WorkerStoppedError(this.group, "crashed", { cause: error }));
      throw error;
    }
  }

  /** Doubles the batch while batches compute fast; shrinks it to fit BATCH_TARGET_MS when
   * slow (the time measured is the computation, not the write or the publication it
   * overlaps). */
  private adaptBatch(slots: number, size: number, elapsedMs: number): void {
    if (slots < size) return; // cut short by the target: no signal
    if (elapsedMs > BATCH_TARGET_MS) this.batch = Math.max(1, Math.floor((slots * BATCH_TARGET_MS) / elapsedMs));
    else this.batch = Math.min(this.batch * 2, this.opts.batchSlots);
  }

  /** Idle or evicted: snapshot (a one-shot worker only if it computed something), then leave. */
  private async retire(runtime: ProcessRuntime, reason: "idle" | "evicted"): Promise<WorkerExit> {
    if (this.opts.persistent || this.computedSlots > 0) await runtime.snapshot();
    await this.leave(runtime);
    return { kind: "retired", reason };
  }

  /** Stopped: snapshot unless told not to; queued work is dropped (its callers fail). */
  private async stopNow(runtime: ProcessRuntime, snapshot: boolean, exit: "stopped" | "disowned"): Promise<WorkerExit> {
    if (snapshot) await runtime.snapshot();
    await this.leave(runtime);
    return { kind: exit };
  }

  private async leave(runtime: ProcessRuntime): Promise<void> {
    await runtime.close();
    this.opts.logger.debug({ event: "stopping", group: this.group, slot: runtime.slot?.toString() }, "stopping");
  }

  /** Work still queued when the worker ends: compute work is asked for again by whoever
   * still wants it; a dry run fails (its caller retries, or evaluates elsewhere when another
   * node owns the process). */
  private failLeftovers(exit: WorkerExit): void {
    for (const work of this.mailbox.drain()) {
      if (work.kind !== "dry_run") continue;
      if (exit.kind === "not_owner" || exit.kind === "disowned") work.fail(new NotOwnerError(this.processId));
      else work.fail(new WorkerStoppedError(this.group, exit.kind === "failed" ? "crashed" : "stopped"));
    }
  }

  private enter(state: WorkerState): void {
    this.current = state;
    this.opts.host.changed(this);
  }
}
