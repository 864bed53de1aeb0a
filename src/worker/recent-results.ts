/**
 * The results this node published most recently, kept in memory for result streams that
 * fell behind (their queue overflowed while the client read slower than the worker
 * computed): such a stream takes its next results from here instead of reading them back
 * from the store and decoding them. Only processes with an open stream keep a run of results
 * here, and only the results one of those streams has yet to take (the hub adds a result
 * no stream took at once, and drops what every stream has taken: `dropBefore`), so a stream
 * that keeps up holds nothing here and its results die young. Every result kept was
 * published, so it is durable: serving it is the same as serving the store's copy.
 *
 * Memory is bounded node-wide by an estimate of the bytes each result holds: past
 * `maxBytes` the oldest published result goes first, whichever process it belongs to.
 */
import type { SlotResult } from "../core/result.js";

/** The bound when none is configured, as the option stream_window_bytes gives it. */
export const DEFAULT_STREAM_WINDOW_BYTES = 32 * 1024 * 1024;

/** Bytes counted per result beyond its strings and data: the result, message and tags
 * objects, the data's typed array and the array slots that hold them. */
const RESULT_OVERHEAD = 240;
/** Bytes counted per tag beyond its name and value. */
const TAG_OVERHEAD = 48;

/** About the heap bytes a published result holds (strings counted at a byte a character;
 * its process id is shared by every result of the process and not counted). */
export function resultBytes(result: SlotResult): number {
  let bytes = RESULT_OVERHEAD + result.messageId.length;
  const output = result.output;
  if (output !== undefined) {
    for (const name in output.tags) bytes += TAG_OVERHEAD + name.length + (output.tags[name]?.length ?? 0);
    bytes += output.data.byteLength;
  }
  if (result.error !== undefined) bytes += RESULT_OVERHEAD + result.error.message.length;
  return bytes;
}

/** The node-wide bound, and the order results were kept in across processes. */
export class RecentResults {
  private keptBytes = 0;
  /** The run each kept result went to, oldest first: order[head..]. Entries of a run that
   * dropped its results since (`stale` of them, always its oldest) free nothing. */
  private order: RecentRun[] = [];
  private head = 0;
  /** Entries of `order` whose result is gone. */
  private staleEntries = 0;

  /** @param maxBytes the bound; 0 keeps nothing (every run stays empty). */
  constructor(readonly maxBytes: number) {}

  /** Bytes now kept (estimated, see resultBytes). */
  get bytes(): number {
    return this.keptBytes;
  }

  /** Results now kept, over every run. */
  get size(): number {
    return this.order.length - this.head - this.staleEntries;
  }

  /** Entries of the eviction order, stale ones included: at most about twice `size`, plus
   * 1,024 (what a closed run leaves behind is dropped in bulk, not one by one). */
  get orderEntries(): number {
    return this.order.length - this.head;
  }

  /** A new, empty run for one process's published results. */
  run(): RecentRun {
    return new RecentRun(this);
  }

  /** @internal A run kept a result of `bytes`: evicts the oldest until within the bound. */
  kept(run: RecentRun, bytes: number): void {
    this.order.push(run);
    this.keptBytes += bytes;
    while (this.keptBytes > this.maxBytes && this.head < this.order.length) {
      const oldest = this.order[this.head++] as RecentRun;
      this.keptBytes -= oldest.dropOldest();
    }
    if (this.head >= 1024 && this.head * 2 >= this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** @internal A run dropped `count` results of `bytes` at once (a gap, or it closed). */
  dropped(count: number, bytes: number): void {
    this.keptBytes -= bytes;
    this.staleEntries += count;
    // Stale entries cost a slot each until they reach the front: once they outnumber the
    // live ones, rebuild the order without them.
    if (this.staleEntries > 1024 && this.staleEntries * 2 > this.order.length - this.head) this.compact();
  }

  /** @internal One stale entry reached the front. */
  skippedStale(): void {
    this.staleEntries--;
  }

  private compact(): void {
    const live: RecentRun[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      const run = this.order[i] as RecentRun;
      if (!run.skipStale()) live.push(run);
    }
    this.order = live;
    this.head = 0;
    this.staleEntries = 0;
  }
}

/**
 * One process's published results, contiguous by slot: [first, next). A result after a gap
 * starts the run again from it; one at or before the last kept (published again, or out of
 * order) is ignored — results are deterministic, so the kept one is the same.
 */
export class RecentRun {
  private results: SlotResult[] = [];
  private sizes: number[] = [];
  private head = 0;
  private first = 0n;
  private closed = false;
  /** The oldest entries of this run in the bound's order whose result is gone. */
  private stale = 0;

  constructor(private readonly bound: RecentResults) {}

  /** Results kept. */
  get size(): number {
    return this.results.length - this.head;
  }

  /** Keeps a published result (nothing once closed, or with a bound of 0). */
  add(result: SlotResult): void {
    if (this.closed || this.bound.maxBytes === 0) return;
    const size = this.size;
    if (size > 0) {
      const next = this.first + BigInt(size);
      if (result.slot < next) return;
      if (result.slot > next) this.dropAll();
    }
    if (this.size === 0) this.first = result.slot;
    const bytes = resultBytes(result);
    this.results.push(result);
    this.sizes.push(bytes);
    this.bound.kept(this, bytes);
  }

  /** The kept result of `slot`, if any. */
  get(slot: bigint): SlotResult | undefined {
    const size = this.results.length - this.head;
    if (size === 0 || slot < this.first) return undefined;
    const offset = slot - this.first;
    if (offset >= BigInt(size)) return undefined;
    return this.results[this.head + Number(offset)];
  }

  /** Drops the kept results before `slot` (every stream of the process has taken them). */
  dropBefore(slot: bigint): void {
    const size = this.results.length - this.head;
    if (size === 0 || slot <= this.first) return;
    const count = slot - this.first >= BigInt(size) ? size : Number(slot - this.first);
    if (count === size) return this.dropAll();
    let bytes = 0;
    for (let i = this.head; i < this.head + count; i++) {
      bytes += this.sizes[i] as number;
      this.results[i] = undefined as unknown as SlotResult;
    }
    this.head += count;
    this.first += BigInt(count);
    this.stale += count;
    this.compactFront();
    this.bound.dropped(count, bytes);
  }

  /** Drops every result and keeps no more (the process has no stream left). */
  close(): void {
    this.closed = true;
    this.dropAll();
  }

  /** @internal Drops the oldest result (or skips a stale entry); returns the bytes freed. */
  dropOldest(): number {
    if (this.stale > 0) {
      this.stale--;
      this.bound.skippedStale();
      return 0;
    }
    const bytes = this.sizes[this.head] ?? 0;
    this.results[this.head] = undefined as unknown as SlotResult;
    this.head++;
    this.first++;
    this.compactFront();
    return bytes;
  }

  /** @internal While the bound rebuilds its order: true for each of this run's stale entries. */
  skipStale(): boolean {
    if (this.stale === 0) return false;
    this.stale--;
    return true;
  }

  /** Lets go of the arrays' front once it has been taken (empty, or more than half). */
  private compactFront(): void {
    if (this.head === this.results.length) {
      this.results = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.results.length) {
      this.results = this.results.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  private dropAll(): void {
    const count = this.size;
    if (count === 0) return;
    let bytes = 0;
    for (let i = this.head; i < this.sizes.length; i++) bytes += this.sizes[i] as number;
    this.results = [];
    this.sizes = [];
    this.head = 0;
    this.stale += count;
    this.bound.dropped(count, bytes);
  }
}
