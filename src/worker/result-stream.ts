/**
 * A stream of a process's results in slot order, each exactly once: stored results first,
 * then live ones as workers publish them. It backs both Compute (a bounded range, bound to
 * the leader: it fails when the worker dies) and Subscribe (open-ended, belongs to the
 * process). Memory is bounded: live results wait in a queue of at most `buffer`; when it
 * overflows the queue is dropped and the stream catches up from the store, where every
 * result already is. A stream whose consumer takes nothing while more than twice `buffer`
 * results complete is too slow (its client is not reading) and ends with RESOURCE_EXHAUSTED.
 */
import { abortReason, deadlineExceeded } from "../core/abort.js";
import { ProcworkerError } from "../core/errors.js";
import type { SlotResult } from "../core/result.js";
import { capDelay } from "../core/timers.js";

/** Where a stream reads the results it missed. */
export interface ResultSource {
  results(processId: string, fromSlot: bigint, toSlot: bigint, limit: number): Promise<SlotResult[]>;
}

export interface ResultStreamOptions {
  processId: string;
  /** First slot to deliver. */
  from: bigint;
  /** Last slot to deliver (inclusive); undefined: never ends by itself. */
  to?: bigint;
  /** Live results held for a consumer that is behind. */
  buffer: number;
  /** Compute streams fail with the leader-death error when their worker dies. */
  leaderBound: boolean;
  /** Ends the stream with DEADLINE_EXCEEDED when no result comes for this long. */
  maxWaitMs?: number;
  signal?: AbortSignal;
  /** Called once when the stream ends, however it ends. */
  onClose: (stream: ResultStream) => void;
}

const PAGE = 64;
const NO_END = 2n ** 64n - 1n;

export class ResultStream implements AsyncIterable<SlotResult> {
  readonly processId: string;
  readonly leaderBound: boolean;
  private nextSlot: bigint;
  private to: bigint | undefined;
  private queue: SlotResult[] = [];
  private failure: Error | undefined;
  private failureListeners: ((error: Error) => void)[] = [];
  private wake: (() => void) | undefined;
  /** True once the store had nothing at `nextSlot` and no live result has been dropped
   * since: every later result reaches this stream by `push`, so it need not read the store
   * again (a broadcast to N subscribers then costs no store reads). */
  private caughtUp = false;
  private delivered = 0;
  private publishedSinceDelivery = 0;
  private closed = false;
  private readonly onAbort = (): void => this.fail(abortReason(this.opts.signal as AbortSignal));

  constructor(
    private readonly source: ResultSource,
    private readonly opts: ResultStreamOptions,
  ) {
    this.processId = opts.processId;
    this.leaderBound = opts.leaderBound;
    this.nextSlot = opts.from;
    this.to = opts.to;
    opts.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** The next slot this stream will deliver. */
  get next(): bigint {
    return this.nextSlot;
  }

  /** The last slot it will deliver, if bounded. */
  get end(): bigint | undefined {
    return this.to;
  }

  /** Moves the start (before anything was delivered), e.g. once the first uncomputed slot
   * is known; results below it are skipped. */
  startAt(slot: bigint): void {
    if (this.delivered === 0 && slot > this.nextSlot) this.nextSlot = slot;
  }

  /** Offers a live result; results already delivered or outside the range are ignored. */
  push(result: SlotResult): void {
    if (this.closed || result.slot < this.nextSlot || (this.to !== undefined && result.slot > this.to)) return;
    if (++this.publishedSinceDelivery > 2 * this.opts.buffer) {
      this.fail(
        new ProcworkerError(
          "resource_exhausted",
          `the client took no result while ${this.publishedSinceDelivery} completed; resubscribe from slot ${this.nextSlot}`,
        ),
      );
      return;
    }
    if (this.queue.length >= this.opts.buffer) {
      this.queue = [];
      this.caughtUp = false;
    }
    this.queue.push(result);
    this.poke();
  }

  /** Ends the stream with an error (delivered to the consumer at its next read). */
  fail(error: Error): void {
    if (this.closed || this.failure !== undefined) return;
    this.failure = error;
    this.failureListeners.splice(0).forEach((f) => f(error));
    this.poke();
  }

  /** Resolves with the error if the stream fails, so a consumer blocked elsewhere (on
   * transport flow control) learns at once that it has been ended. */
  whenFailed(): Promise<Error> {
    if (this.failure !== undefined) return Promise.resolve(this.failure);
    return new Promise((resolve) => this.failureListeners.push(resolve));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SlotResult> {
    try {
      for (;;) {
        this.throwIfFailed();
        if (this.to !== undefined && this.nextSlot > this.to) return;
        const live = this.takeLive();
        if (live !== undefined) {
          yield this.deliver(live);
          continue;
        }
        const woken = new Promise<void>((resolve) => (this.wake = resolve));
        if (this.caughtUp && this.queue.length === 0) {
          await this.waitFor(woken);
          continue;
        }
        const stored = await this.readStored();
        if (stored.length > 0) {
          for (const result of stored) {
            this.throwIfFailed();
            if (result.slot === this.nextSlot) yield this.deliver(result);
          }
          continue;
        }
        // Nothing stored at nextSlot: from now on it can only arrive by push.
        if (this.queue.length === 0) this.caughtUp = true;
        await this.waitFor(woken);
      }
    } finally {
      this.close();
    }
  }

  /** The queued result for nextSlot, if any (one-shot workers may publish out of order);
   * drops what was already delivered. */
  private takeLive(): SlotResult | undefined {
    if (this.queue.length === 0) return undefined;
    if (this.queue[0]?.slot === this.nextSlot) return this.queue.shift();
    this.queue = this.queue.filter((r) => r.slot >= this.nextSlot);
    const at = this.queue.findIndex((r) => r.slot === this.nextSlot);
    return at < 0 ? undefined : this.queue.splice(at, 1)[0];
  }

  private async readStored(): Promise<SlotResult[]> {
    const last = this.to ?? NO_END;
    const upTo = this.nextSlot + BigInt(PAGE) - 1n < last ? this.nextSlot + BigInt(PAGE) - 1n : last;
    const page = await this.source.results(this.processId, this.nextSlot, upTo, PAGE);
    const contiguous: SlotResult[] = [];
    let expected = this.nextSlot;
    for (const result of page) {
      if (result.slot !== expected) break;
      contiguous.push(result);
      expected++;
    }
    return contiguous;
  }

  private async waitFor(woken: Promise<void>): Promise<void> {
    const maxWaitMs = this.opts.maxWaitMs;
    if (maxWaitMs === undefined) return woken;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.fail(deadlineExceeded(`no result within max_await_ms (${maxWaitMs} ms)`));
        resolve();
      }, capDelay(maxWaitMs));
    });
    try {
      await Promise.race([woken, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Throws the failure, if the stream has failed (a method, so that the check is made anew
   * after every await rather than narrowed away by the compiler). */
  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private deliver(result: SlotResult): SlotResult {
    this.nextSlot = result.slot + 1n;
    this.delivered++;
    this.publishedSinceDelivery = 0;
    return result;
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Detaches the stream (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.failureListeners = [];
    this.opts.signal?.removeEventListener("abort", this.onAbort);
    this.opts.onClose(this);
  }
}
