/**
 * Result streams: a process's results in slot order, each exactly once — stored results
 * first, then live ones as they are published. They back Compute (a bounded range that fails
 * when its worker dies) and Subscribe (open-ended; belongs to the process). Delivery is push:
 * a live result goes straight to the consumer (for gRPC: one write of bytes encoded once for
 * every stream), with no promise or generator per result.
 *
 * Memory is bounded: while the consumer is full (HTTP/2 flow control) live results wait in a
 * queue of at most `buffer`; past it the queue is dropped and the stream later catches up
 * from the process's latest published results kept in memory (`recent`, bounded node-wide)
 * or else from the store, where every published result already is. A consumer that takes nothing
 * while more than twice `buffer` results are published, and for `stallMs` after that, has
 * stopped reading: the stream ends with `resource_exhausted` (docs/design.md §3.3).
 */
import { deadlineExceeded } from "../core/abort.js";
import { ProcworkerError, StoreFailureError } from "../core/errors.js";
import { MAX_SLOT, type SlotResult } from "../core/result.js";
import { capDelay } from "../core/timers.js";
import type { EncodedResult } from "../store/store.js";

/** What a stream delivers: a result, or, to a consumer that asked for them (`encoded`), a
 * stored result read back from the store and left in its encoding. */
export type StreamedResult = SlotResult | EncodedResult;

/** Whether a streamed result is a stored one left encoded. */
export function isEncodedResult(result: StreamedResult): result is EncodedResult {
  return "value" in result;
}

/** The side that takes a stream's results (the gRPC handler, or a test). */
export interface SlotConsumer {
  /** Takes the next result, in slot order (an EncodedResult only if the stream was opened
   * `encoded`). Returns false when it can take no more for now; the stream then holds
   * further results until `resume()`. */
  deliver(result: StreamedResult): boolean;
  /** The stream delivered its last slot (a bounded Compute stream). Called at most once. */
  end(): void;
  /**
   * The engine ended the stream: `resource_exhausted` (a consumer that stopped reading),
   * `aborted` (its worker died: Compute only), `unavailable` (shutdown), `deadline_exceeded`
   * (no result within max_await_ms, Compute without a deadline). At most once, never after end.
   */
  fail(error: Error): void;
}

/** A stream of a process's results, as Compute and Subscribe return it. */
export interface SlotStream {
  /** How many delivered results the consumer may hold before it reports full (its share
   * of the stream's buffer; the stream's own queue holds as many again). */
  readonly depth: number;
  /** Starts delivery to `consumer`; call once. */
  start(consumer: SlotConsumer): void;
  /** The consumer can take results again after `deliver` returned false. */
  resume(): void;
  /** The consumer's client took some of the results the consumer held (for gRPC: they were
   * sent, so HTTP/2 flow control let them through): it is reading, even if slowly. */
  progress(): void;
  /** The consumer went away (the client cancelled): detaches without a callback. */
  close(): void;
}

/** Where a stream reads the results it did not see published. */
export interface ResultSource {
  results(processId: string, fromSlot: bigint, toSlot: bigint, limit: number): Promise<SlotResult[]>;
  /** The same results left in the store's encoding (for `encoded` streams). */
  encodedResults?(processId: string, fromSlot: bigint, toSlot: bigint, limit: number): Promise<EncodedResult[]>;
}

export interface ResultStreamOptions {
  processId: string;
  /** First slot to deliver. */
  from: bigint;
  /** Last slot to deliver (inclusive); undefined: never ends by itself. */
  to?: bigint;
  /** The range is fixed later, by `bound` (Compute, once the latest slots are known); until
   * then the stream wants nothing computed. */
  boundLater?: boolean;
  /** Live results held for a consumer that is full. */
  buffer: number;
  /** A consumer that takes nothing while more than twice `buffer` results complete fails
   * once it has also taken nothing for this long (0: at once). */
  stallMs?: number;
  /** Compute streams fail with the leader-death error when their worker dies. */
  leaderBound: boolean;
  /** Ends the stream with deadline_exceeded when no result comes for this long. */
  maxWaitMs?: number;
  /** Called once when the stream ends, however it ends. */
  onClose: (stream: ResultStream) => void;
  /** The process's latest published results: read before the store when behind. */
  recent?: RecentResultsOf;
  /** The consumer takes results read back from the store as they are stored (EncodedResult):
   * a gRPC stream sends them on without decoding them into objects first. */
  encoded?: boolean;
}

/** The latest published results of the stream's process (recent-results.ts). */
export interface RecentResultsOf {
  get(slot: bigint): SlotResult | undefined;
}

const PAGE = 64;
/** Delays between store reads that failed (store unreachable or full): the first, doubling
 * up to the last, each with ±50% jitter. The stream waits meanwhile (it ends by its caller). */
const READ_RETRY_MS = { first: 250, max: 5_000 };

export class ResultStream implements SlotStream {
  readonly processId: string;
  readonly leaderBound: boolean;
  private nextSlot: bigint;
  private to: bigint | undefined;
  private unbounded: boolean;
  private consumer: SlotConsumer | undefined;
  /** Live results not yet delivered, in slot order: queue[head..], all ≥ nextSlot. Taken
   * from the front by moving `head` (Array#shift is linear in the queue's length). */
  private queue: StreamedResult[] = [];
  private head = 0;
  /** Results at or after nextSlot may be in the store and not in the queue: read before
   * relying on pushes. True at the start and after the queue overflowed. */
  private behind = true;
  private full = false;
  private reading = false;
  private closed = false;
  private failure: Error | undefined;
  /** Results completed since the consumer or its client last took one. */
  private completedSinceProgress = 0;
  /** Times the queue overflowed and was dropped. */
  private drops = 0;
  private progressed = false;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = READ_RETRY_MS.first;
  /** Armed while the consumer has taken nothing and more than twice `buffer` completed. */
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: ResultSource,
    private readonly opts: ResultStreamOptions,
  ) {
    this.processId = opts.processId;
    this.leaderBound = opts.leaderBound;
    this.nextSlot = opts.from;
    this.to = opts.to;
    this.unbounded = opts.boundLater === true;
  }

  get depth(): number {
    return this.opts.buffer;
  }

  /** The next slot this stream will deliver. */
  get next(): bigint {
    return this.nextSlot;
  }

  /** What it wants computed: up to its last slot, the latest scheduled slot (open-ended), or
   * nothing yet (its range is not fixed). */
  get wanted(): bigint | "latest" | undefined {
    if (this.unbounded) return undefined;
    return this.to ?? "latest";
  }

  /** Fixes the range before delivery begins (Compute learns it once the process's latest
   * scheduled and computed slots are known). */
  bound(from: bigint, to: bigint): void {
    if (this.consumer !== undefined) throw new Error("a result stream's range is fixed once it has started");
    this.nextSlot = from;
    this.to = to;
    this.unbounded = false;
  }

  start(consumer: SlotConsumer): void {
    if (this.consumer !== undefined) throw new Error("a result stream has one consumer");
    this.consumer = consumer;
    if (this.failure !== undefined) return this.finish((c) => c.fail(this.failure as Error));
    if (this.opts.maxWaitMs !== undefined) this.armDeadline(this.opts.maxWaitMs);
    this.pump();
  }

  progress(): void {
    this.completedSinceProgress = 0;
    if (this.stallTimer !== undefined) this.unstall();
  }

  resume(): void {
    if (!this.full) return;
    this.full = false;
    this.pump();
  }

  /** Offers a published result; ones already delivered or outside the range are ignored. */
  push(result: SlotResult): void {
    if (this.closed || result.slot < this.nextSlot || (this.to !== undefined && result.slot > this.to)) return;
    this.progressed = true;
    if (++this.completedSinceProgress > 2 * this.opts.buffer && this.stallTimer === undefined) {
      this.stall();
      if (this.closed) return;
    }
    const live = this.consumer !== undefined && !this.full && !this.reading && !this.behind;
    if (live && this.queued === 0 && result.slot === this.nextSlot) return this.deliver(result);
    this.enqueue(result);
    if (live) this.pump();
  }

  /** Ends the stream with an error (the consumer hears of it at once, or when it starts). */
  fail(error: Error): void {
    if (this.closed || this.failure !== undefined) return;
    this.failure = error;
    if (this.consumer !== undefined) this.finish((c) => c.fail(error));
  }

  close(): void {
    this.finish(undefined);
  }

  /** Results queued and not yet taken. */
  private get queued(): number {
    return this.queue.length - this.head;
  }

  private enqueue(result: StreamedResult): void {
    if (this.queued >= this.opts.buffer) {
      this.queue = []; // the store has them all: catch up from there later
      this.head = 0;
      this.behind = true;
      this.drops++;
    }
    const last = this.queue[this.queue.length - 1];
    if (this.queued === 0 || last === undefined || result.slot > last.slot) {
      this.queue.push(result);
      return;
    }
    // Out of order or repeated (one-shot workers of one process may publish the same slots).
    this.compact();
    if (this.queue.some((r) => r.slot === result.slot)) return;
    this.queue.push(result);
    this.queue.sort((a, b) => (a.slot < b.slot ? -1 : a.slot > b.slot ? 1 : 0));
  }

  /** Merges results read from the store (in slot order) into the queue, in one pass: both
   * are sorted, a slot present in both is kept once, and past `buffer` the latest are left
   * to a later read. */
  private merge(read: StreamedResult[]): void {
    const merged: StreamedResult[] = [];
    let i = 0;
    let j = this.head;
    while (i < read.length || j < this.queue.length) {
      const a = read[i];
      const b = this.queue[j];
      let next: StreamedResult;
      if (b === undefined || (a !== undefined && a.slot < b.slot)) next = a as StreamedResult;
      else next = b;
      if (a !== undefined && a.slot === next.slot) i++;
      if (b !== undefined && b.slot === next.slot) j++;
      if (next.slot >= this.nextSlot) merged.push(next);
    }
    if (merged.length > this.opts.buffer) {
      merged.length = this.opts.buffer;
      this.behind = true;
      this.drops++;
    }
    this.queue = merged;
    this.head = 0;
  }

  /** Takes the front of the queue. */
  private shift(): void {
    this.head++;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) this.compact();
  }

  /** Drops the taken front of the queue. */
  private compact(): void {
    if (this.head === 0) return;
    this.queue = this.queue.slice(this.head);
    this.head = 0;
  }

  /** Delivers what it can: queued results in order, then a store read if it is behind. */
  private pump(): void {
    while (!this.closed && this.consumer !== undefined && !this.full && !this.reading) {
      const head = this.queue[this.head];
      if (head !== undefined && head.slot < this.nextSlot) {
        this.shift();
        continue;
      }
      if (head !== undefined && head.slot === this.nextSlot) {
        this.shift();
        this.deliver(head);
        continue;
      }
      // Published results kept in memory are the store's: no read, no decoding.
      const kept = this.opts.recent?.get(this.nextSlot);
      if (kept !== undefined) {
        this.deliver(kept);
        continue;
      }
      if ((this.behind || head !== undefined) && this.retryTimer === undefined) void this.readStore();
      return;
    }
  }

  private deliver(result: StreamedResult): void {
    this.nextSlot = result.slot + 1n;
    this.completedSinceProgress = 0;
    if (this.stallTimer !== undefined) this.unstall();
    this.progressed = true;
    const more = (this.consumer as SlotConsumer).deliver(result);
    if (this.to !== undefined && this.nextSlot > this.to) return this.finish((c) => c.end());
    if (!more) this.full = true;
  }

  /** Reads the next page from the store into the queue. A short page means the store had
   * nothing more when read: every later result reaches this stream by `push`. */
  private async readStore(): Promise<void> {
    this.reading = true;
    const from = this.nextSlot;
    const last = this.to ?? MAX_SLOT;
    const upTo = from + BigInt(PAGE) - 1n < last ? from + BigInt(PAGE) - 1n : last;
    const drops = this.drops;
    let page: StreamedResult[];
    try {
      const { source } = this;
      page =
        this.opts.encoded === true && source.encodedResults !== undefined
          ? await source.encodedResults(this.processId, from, upTo, PAGE)
          : await source.results(this.processId, from, upTo, PAGE);
    } catch (error) {
      this.reading = false;
      if (error instanceof StoreFailureError) return this.readLater();
      return this.fail(error instanceof Error ? error : new Error(String(error)));
    }
    this.reading = false;
    this.retryDelay = READ_RETRY_MS.first;
    if (this.closed) return;
    const contiguous: StreamedResult[] = [];
    for (const result of page) {
      if (result.slot !== from + BigInt(contiguous.length)) break;
      contiguous.push(result);
    }
    this.behind = contiguous.length === PAGE || this.drops !== drops;
    this.merge(contiguous);
    const head = this.queue[this.head];
    if (!this.behind && head !== undefined && head.slot > this.nextSlot) {
      // Results are stored before they are published, so the store cannot lack a slot that
      // a published result has passed; reading again would spin. Say so instead.
      const message = `result stream of ${this.processId}: slot ${this.nextSlot} is missing from the store`;
      return this.fail(new ProcworkerError("internal", message));
    }
    this.pump();
  }

  /** The store failed: read again after a delay (pushes meanwhile only queue up). */
  private readLater(): void {
    if (this.closed) return;
    const delay = this.retryDelay * (0.5 + Math.random());
    this.retryDelay = Math.min(this.retryDelay * 2, READ_RETRY_MS.max);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, capDelay(delay));
  }

  /**
   * More than twice `buffer` results completed while the consumer took none: it has stopped
   * reading, unless it takes one within `stallMs` (a catch-up completes a buffer's worth in
   * milliseconds, shorter than a client may be descheduled on a busy machine).
   */
  private stall(): void {
    const stallMs = this.opts.stallMs ?? 0;
    const fail = (): void => {
      this.stallTimer = undefined;
      const message =
        `the client took no result while ${this.completedSinceProgress} completed` +
        `${stallMs > 0 ? ` in ${stallMs} ms` : ""}; resubscribe from slot ${this.nextSlot}`;
      this.fail(new ProcworkerError("resource_exhausted", message));
    };
    if (stallMs === 0) return fail();
    this.stallTimer = setTimeout(fail, capDelay(stallMs));
  }

  private unstall(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private armDeadline(maxWaitMs: number): void {
    this.timer = setTimeout(() => {
      if (this.closed) return;
      if (!this.progressed) return this.fail(deadlineExceeded(`no result within max_await_ms (${maxWaitMs} ms)`));
      this.progressed = false;
      this.armDeadline(maxWaitMs);
    }, capDelay(maxWaitMs));
  }

  /** Ends the stream once: detaches it, clears its timer, then tells the consumer. */
  private finish(tell: ((consumer: SlotConsumer) => void) | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.stallTimer);
    this.opts.onClose(this);
    if (tell !== undefined && this.consumer !== undefined) tell(this.consumer);
  }
}
