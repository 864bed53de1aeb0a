/**
 * Everyone waiting on one process: Await callers (waiters, for a slot or for "any"), Compute
 * streams and subscribers. It belongs to the process, not to a worker, so subscriptions
 * outlive any one worker. Workers call `notifyCompute` after a result is stored; the hub
 * is how results reach callers (the seed's `notify_compute`).
 */
import { abortReason } from "../core/abort.js";
import type { Logger } from "../core/log.js";
import type { SlotResult } from "../core/result.js";
import { ResultStream, type ResultSource, type ResultStreamOptions } from "./result-stream.js";

/** A caller waiting for one result: of `slot`, or of the next slot to complete (any). */
interface Waiter {
  slot: bigint | undefined;
  resolve: (result: SlotResult) => void;
  reject: (error: Error) => void;
}

/** What the waiting callers of a process want computed. */
export interface Interest {
  /** Highest specific slot waited for, if any. */
  maxWaitedSlot: bigint | undefined;
  /** Waiters for "the next slot", or streams that want everything up to the latest. */
  wantsLatest: boolean;
  /** Highest slot a bounded Compute stream still needs. */
  maxStreamSlot: bigint | undefined;
}

export class ProcessHub {
  private readonly waiters = new Set<Waiter>();
  private readonly streams = new Set<ResultStream>();

  constructor(
    readonly processId: string,
    private readonly source: ResultSource,
    private readonly logger: Logger,
    private readonly onEmpty: (hub: ProcessHub) => void,
    private readonly onChange: () => void = () => undefined,
  ) {}

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

  /**
   * Joins the waiters for `slot` (undefined: the next slot to complete). Resolves with the
   * result; rejects with the signal's reason (deadline, cancel) or the leader-death error.
   * The waiter is removed at once however the wait ends. Returns the wait and a `resolve`
   * handle for a result the caller found in the store after joining.
   */
  wait(
    slot: bigint | undefined,
    signal: AbortSignal,
  ): { result: Promise<SlotResult>; settle: (r: SlotResult) => void } {
    let waiter!: Waiter;
    const result = new Promise<SlotResult>((resolve, reject) => {
      const done = (): void => {
        if (this.waiters.delete(waiter)) this.onChange();
        signal.removeEventListener("abort", onAbort);
        this.checkEmpty();
      };
      const onAbort = (): void => {
        done();
        reject(abortReason(signal));
      };
      waiter = {
        slot,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      if (signal.aborted) return onAbort();
      this.waiters.add(waiter);
      this.onChange();
      signal.addEventListener("abort", onAbort, { once: true });
      this.logger.debug(
        { event: "awaiting_compute", group: this.processId, slot: slot?.toString() },
        "awaiting_compute",
      );
    });
    return { result, settle: (r) => waiter.resolve(r) };
  }

  /** Opens a result stream attached to this hub; it detaches itself when it ends. */
  openStream(opts: Omit<ResultStreamOptions, "processId" | "onClose">): ResultStream {
    const stream = new ResultStream(this.source, {
      ...opts,
      processId: this.processId,
      onClose: (s) => {
        this.streams.delete(s);
        this.onChange();
        this.checkEmpty();
      },
    });
    this.streams.add(stream);
    this.onChange();
    return stream;
  }

  /**
   * The seed's `notify_compute`: gives a stored result to every waiter for its slot and
   * every waiter for "any", and to every stream. Waiters for other slots keep waiting.
   * Returns how many waiters were notified.
   */
  notifyCompute(group: string, result: SlotResult): number {
    let count = 0;
    for (const waiter of [...this.waiters]) {
      if (waiter.slot === undefined || waiter.slot === result.slot) {
        waiter.resolve(result);
        count++;
      }
    }
    for (const stream of this.streams) stream.push(result);
    this.logger.debug(
      { event: "notified_of_resolution", group, slot: result.slot.toString(), listeners: count },
      "notified_of_resolution",
    );
    this.logger.debug(
      { event: "finished_notifying", group, slot: result.slot.toString(), listeners: count },
      "finished_notifying",
    );
    return count;
  }

  /** Fails every waiter and every Compute stream (the worker they relied on died). */
  failLeaderBound(error: Error): void {
    for (const waiter of [...this.waiters]) waiter.reject(error);
    for (const stream of [...this.streams]) if (stream.leaderBound) stream.fail(error);
  }

  /** Fails everything, subscriptions too (shutdown). */
  failAll(error: Error): void {
    for (const waiter of [...this.waiters]) waiter.reject(error);
    for (const stream of [...this.streams]) stream.fail(error);
  }

  /** What the attached callers want computed. */
  interest(): Interest {
    let maxWaitedSlot: bigint | undefined;
    let maxStreamSlot: bigint | undefined;
    let wantsLatest = false;
    for (const w of this.waiters) {
      if (w.slot === undefined) wantsLatest = true;
      else if (maxWaitedSlot === undefined || w.slot > maxWaitedSlot) maxWaitedSlot = w.slot;
    }
    for (const s of this.streams) {
      if (s.end === undefined) wantsLatest = true;
      else if (maxStreamSlot === undefined || s.end > maxStreamSlot) maxStreamSlot = s.end;
    }
    return { maxWaitedSlot, wantsLatest, maxStreamSlot };
  }

  private checkEmpty(): void {
    if (this.empty) this.onEmpty(this);
  }
}
