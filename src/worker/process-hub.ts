/**
 * Everyone waiting on one process — Await callers (waiters), Compute streams, subscribers —
 * and the decision of what must be computed for them (eager compute, docs/design.md §2.7).
 * A hub belongs to the process, not to a worker, so subscriptions outlive any one worker.
 * Published results (from a local worker, or in a cluster from another node) reach callers
 * through `publish` (HyperBEAM's `notify_compute`); schedules and worker ends come in through
 * `scheduled` and `workerEnded`, and the hub answers each by asking for what is wanted.
 *
 * The hub keeps the latest scheduled and computed slots it knows of (read once when it is
 * made, then kept up to date by what comes in), so deciding costs no store reads.
 */
import { capDelay } from "../core/timers.js";
import { StoreFailureError, WorkerStoppedError } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import type { SlotResult } from "../core/result.js";
import type { Changes } from "./changes.js";
import type { RecentResults, RecentRun } from "./recent-results.js";
import { ResultStream, type ResultSource, type ResultStreamOptions } from "./result-stream.js";
import { Waiters, type Wait } from "./waiters.js";
import type { WorkerExit } from "./worker.js";

/** What a hub needs from the engine. */
export interface HubContext {
  /** Reads the store (results for streams, latest slots when the hub is made). */
  source: ResultSource & {
    latestScheduledSlot(processId: string): Promise<bigint>;
    latestResultSlot(processId: string): Promise<bigint | undefined>;
  };
  /** Asks for `processId` to be computed up to `target`; false when its worker is leaving
   * (the hub asks again when it has ended). */
  dispatch(processId: string, target: bigint): boolean;
  /** The group that computes `processId` up to `target` (for leader-death errors and logs). */
  groupOf(processId: string, target: bigint | undefined): string;
  /** Readies this node to compute the process (in a cluster, where another node may own it
   * now and this one take it over later); undefined on one node. */
  prepare?: (processId: string) => Promise<void>;
  logger: Logger;
  changes: Changes;
  /** Where a process with open streams keeps its latest published results, for streams
   * that fell behind (none: they read the store). */
  recent?: RecentResults;
  /** Delays before asking again when no worker could run: after a failure before any
   * progress (store down) the first, doubling to max; while another node owns the process,
   * `follow` (each with ±50% jitter, so many processes and nodes spread out). */
  retryMs: { first: number; max: number; follow: number };
}

export class ProcessHub {
  private readonly waiters: Waiters;
  private readonly streams = new Set<ResultStream>();
  /** The latest results published while a stream is open (see recent-results.ts). */
  private recent: RecentRun | undefined;
  /** The latest scheduled and computed slots known: the larger of what was read when the
   * hub was made and what has come in since. */
  private scheduledMax = 0n;
  private computedMax: bigint | undefined;
  private loaded = false;
  /** The highest target asked of a worker since the last one ended. */
  private dispatched: bigint | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Reads of results computed elsewhere, one after the other. */
  private pulling: Promise<void> = Promise.resolve();
  private retryDelay: number;
  /** Set by failAll: the hub takes no more callers (they fail at once with it). */
  private failure: Error | undefined;
  /** Resolves once the latest scheduled and computed slots have been read. If the read fails
   * (the store is unreachable) it rejects, and every caller attached fails with that error. */
  readonly ready: Promise<void>;

  constructor(
    readonly processId: string,
    private readonly ctx: HubContext,
    private readonly onEmpty: (hub: ProcessHub) => void,
  ) {
    this.retryDelay = ctx.retryMs.first;
    this.waiters = new Waiters(() => this.left());
    this.ready = this.load();
    this.ready.catch((error: unknown) => this.failAll(toError(error)));
  }

  /** Waiters now attached. */
  get waiterCount(): number {
    return this.waiters.size;
  }

  /** Open subscriptions (not Compute streams). */
  get subscriberCount(): number {
    let n = 0;
    for (const s of this.streams) if (!s.leaderBound) n++;
    return n;
  }

  /** Open streams of either kind. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** True when nobody waits: the hub can be dropped. */
  get empty(): boolean {
    return this.waiters.size === 0 && this.streams.size === 0;
  }

  /** The latest scheduled slot known (complete once `ready` has resolved). */
  get scheduledSlot(): bigint {
    return this.scheduledMax;
  }

  /** The latest computed slot known (complete once `ready` has resolved), if any. */
  get computedSlot(): bigint | undefined {
    return this.computedMax;
  }

  /**
   * Joins the waiters for `slot` (undefined: the next slot to complete), then computes
   * eagerly what it waits for. Every wait ends: by the signal, or by the leader-death error.
   */
  wait(slot: bigint | undefined, signal: AbortSignal): Wait {
    const wait = this.waiters.join(slot, signal);
    this.attached();
    if (this.failure !== undefined) {
      this.waiters.failAll(this.failure);
      return wait;
    }
    if (this.ctx.logger.isLevelEnabled("debug")) {
      const group = this.ctx.groupOf(this.processId, slot ?? this.scheduledMax);
      this.ctx.logger.debug({ event: "awaiting_compute", group, slot: slot?.toString() }, "awaiting_compute");
    }
    this.want(slot);
    return wait;
  }

  /** Opens a stream of this process's results; it detaches itself when it ends. Eager
   * compute starts once the caller has fixed its range (`computeFor`). */
  openStream(opts: Omit<ResultStreamOptions, "processId" | "onClose" | "recent">): ResultStream {
    this.recent ??= this.ctx.recent?.run();
    const stream = new ResultStream(this.ctx.source, {
      ...opts,
      processId: this.processId,
      ...(this.recent !== undefined ? { recent: this.recent } : {}),
      onClose: (s) => {
        this.streams.delete(s);
        if (this.streams.size === 0) {
          this.recent?.close();
          this.recent = undefined;
        }
        this.left();
      },
    });
    this.streams.add(stream);
    this.attached();
    if (this.failure !== undefined) stream.fail(this.failure);
    return stream;
  }

  /** Computes eagerly what `stream` wants (its end, or the latest scheduled slot). */
  computeFor(stream: ResultStream): void {
    const wanted = stream.wanted;
    if (wanted !== undefined) this.want(wanted === "latest" ? undefined : wanted);
  }

  /**
   * Results stored for this process, in slot order (HyperBEAM's `notify_compute`): each goes
   * to every waiter for its slot and every waiter for any, and to every stream. Waiters for
   * other slots keep waiting. Returns how many waiters were notified.
   */
  publish(group: string, results: SlotResult[]): number {
    let count = 0;
    const logging = this.ctx.logger.isLevelEnabled("debug");
    const recent = this.recent;
    /** The next slot of the stream furthest behind, once the result was offered to all. */
    let slowest: bigint | undefined;
    for (const result of results) {
      const notified = this.waiters.notify(result);
      count += notified;
      slowest = undefined;
      for (const stream of this.streams) {
        stream.push(result);
        const next = stream.next;
        if (slowest === undefined || next < slowest) slowest = next;
      }
      // Kept in memory only while a stream has yet to take it: such a stream may need it
      // again after its queue overflows.
      if (slowest !== undefined && slowest <= result.slot) recent?.add(result);
      if (!logging) continue;
      const slot = result.slot.toString();
      this.ctx.logger.debug(
        { event: "notified_of_resolution", group, slot, listeners: notified },
        "notified_of_resolution",
      );
      this.ctx.logger.debug({ event: "finished_notifying", group, slot, listeners: notified }, "finished_notifying");
    }
    if (slowest !== undefined) recent?.dropBefore(slowest); // every stream took those before it
    const last = results[results.length - 1];
    if (last !== undefined) this.sawComputed(last.slot);
    this.retryDelay = this.ctx.retryMs.first;
    return count;
  }

  /**
   * Slots up to `to` were computed elsewhere (another node): reads the ones this hub has not
   * seen from the store and publishes them, in order, once. Pulls run one at a time.
   */
  computedElsewhere(to: bigint): void {
    this.pulling = this.pulling
      .then(() => this.pull(to))
      .catch((error: unknown) => {
        this.ctx.logger.warn({ event: "pull_failed", processId: this.processId, err: error }, "reading results failed");
      });
  }

  private async pull(to: bigint): Promise<void> {
    await this.ready;
    while (this.failure === undefined && !this.empty && (this.computedMax === undefined || this.computedMax < to)) {
      const from = this.computedMax === undefined ? 0n : this.computedMax + 1n;
      const page = await this.ctx.source.results(this.processId, from, to, PULL_PAGE);
      const contiguous = page.filter((r, i) => r.slot === from + BigInt(i));
      if (contiguous.length === 0) return;
      this.publish(this.processId, contiguous);
    }
  }

  /** Signals may have been missed (cluster): re-reads the latest slots, publishes what was
   * computed meanwhile, and asks for what is wanted. */
  resync(): void {
    const reread = Promise.all([
      this.ctx.source.latestScheduledSlot(this.processId),
      this.ctx.source.latestResultSlot(this.processId),
    ]);
    reread.then(
      ([scheduled, computed]) => {
        this.scheduled(scheduled);
        if (computed !== undefined) this.computedElsewhere(computed);
      },
      (error: unknown) => {
        this.ctx.logger.warn({ event: "resync_failed", processId: this.processId, err: error }, "resync failed");
      },
    );
  }

  /** Slots up to `latest` are scheduled: compute what callers want of them. */
  scheduled(latest: bigint): void {
    if (latest > this.scheduledMax) this.scheduledMax = latest;
    this.computeEagerly();
  }

  /**
   * A worker of this process ended. Stopped or failed, its waiters and Compute streams fail
   * with the leader-death error — except when the store failed (unreachable or full): nothing
   * was lost (what was not stored is computed again), so callers keep waiting, each until its
   * own deadline, while a fresh worker is tried with backoff. Then whatever callers still want
   * is asked for again — at once, or after a delay when no worker could run (owned elsewhere,
   * the store failing, or a failure before any progress: no spinning).
   */
  workerEnded(group: string, exit: WorkerExit): void {
    this.dispatched = undefined;
    const storeFailed = exit.kind === "failed" && exit.error instanceof StoreFailureError;
    if (exit.kind === "stopped") this.failLeaderBound(new WorkerStoppedError(group, "stopped"));
    if (exit.kind === "failed" && !storeFailed) {
      this.failLeaderBound(new WorkerStoppedError(group, "crashed", { cause: exit.error }));
    }
    if (exit.kind === "not_owner" || exit.kind === "disowned") this.retrySoon(this.ctx.retryMs.follow, true);
    else if (storeFailed || (exit.kind === "failed" && !exit.progressed)) this.retrySoon(this.backoff(), false);
    else this.computeEagerly();
  }

  /** Fails everything, subscriptions too (shutdown), and stops deciding. */
  failAll(error: Error): void {
    this.failure ??= error;
    clearTimeout(this.retryTimer);
    this.waiters.failAll(error);
    for (const stream of [...this.streams]) stream.fail(error);
  }

  /** Asks for what every caller wants that is scheduled (after a schedule, a worker's end, a retry). */
  computeEagerly(): void {
    let target: bigint | undefined = this.waiters.wantsAny ? this.scheduledSlot : this.waiters.maxSlot();
    for (const stream of this.streams) {
      const wanted = stream.wanted;
      if (wanted === undefined) continue;
      const slot = wanted === "latest" ? this.scheduledSlot : wanted;
      if (target === undefined || slot > target) target = slot;
    }
    if (target !== undefined) this.want(target);
  }

  /** Asks for `slot` (undefined: the latest scheduled) to be computed, if it is scheduled, not
   * yet computed, and not already asked of the live worker. */
  private want(slot: bigint | undefined): void {
    if (this.failure !== undefined || !this.loaded) return; // load() decides once the slots are known
    const target = slot === undefined || slot > this.scheduledMax ? this.scheduledMax : slot;
    if (this.computedMax !== undefined && this.computedMax >= target) return;
    if (this.dispatched !== undefined && this.dispatched >= target) return;
    if (this.retryTimer !== undefined) return; // a retry is pending: it will ask
    if (this.ctx.dispatch(this.processId, target)) this.dispatched = target;
  }

  /** The next delay after a failure: doubling up to the maximum. */
  private backoff(): number {
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, this.ctx.retryMs.max);
    return delay;
  }

  /** Asks again after about `baseMs`. A follower (another node owns the process) also
   * re-reads the store first, so a signal it missed costs it at most one such delay. */
  private retrySoon(baseMs: number, follower: boolean): void {
    if (this.failure !== undefined || this.retryTimer !== undefined || this.empty) return;
    // Jitter spreads the retries of many processes (and of several nodes) over time.
    const delay = baseMs * (0.5 + Math.random());
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (follower) this.resync();
      else this.computeEagerly();
    }, capDelay(delay));
  }

  private failLeaderBound(error: Error): void {
    this.waiters.failAll(error);
    for (const stream of [...this.streams]) if (stream.leaderBound) stream.fail(error);
  }

  private async load(): Promise<void> {
    const [scheduled, computed] = await Promise.all([
      this.ctx.source.latestScheduledSlot(this.processId),
      this.ctx.source.latestResultSlot(this.processId),
    ]);
    // What came in while reading may be newer than what was read: keep the larger.
    if (scheduled > this.scheduledMax) this.scheduledMax = scheduled;
    if (computed !== undefined) this.sawComputed(computed);
    this.loaded = true;
    this.computeEagerly();
    // A follower takes over only when the owner is gone: be ready for it then.
    this.ctx.prepare?.(this.processId).catch((error: unknown) => {
      this.ctx.logger.warn({ event: "prepare_failed", processId: this.processId, err: error }, "prepare failed");
    });
  }

  private sawComputed(slot: bigint): void {
    if (this.computedMax === undefined || slot > this.computedMax) this.computedMax = slot;
    if (slot > this.scheduledMax) this.scheduledMax = slot;
  }

  private attached(): void {
    this.ctx.changes.notify();
  }

  private left(): void {
    this.ctx.changes.notify();
    if (!this.empty) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.onEmpty(this);
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Results read per store call when catching up with another node's results. */
const PULL_PAGE = 256;
