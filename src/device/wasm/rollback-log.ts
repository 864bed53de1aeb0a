/**
 * The rollback log of one wasm@1.0 process: the inputs of the slots that succeeded since
 * its checkpoint, in a SharedArrayBuffer. The wasm thread appends to it (writing each
 * step's input in the free space after the last entry, committed if the step succeeds:
 * bytes past the confirmed length mean nothing to anyone else); the main thread
 * holds a reference to the same memory and knows how many of its bytes were confirmed by
 * the thread's last answer. So there is one log, and it outlives the thread: when a thread
 * is terminated or crashes, the process is rebuilt on another thread from the checkpoint
 * and the confirmed part of this log. Entries: u32 input length · u8 flags (1: slot 0) ·
 * the input bytes.
 */

/** Where a process can be rebuilt from: a checkpoint image (null: a fresh instantiation)
 * and the log since it, `logBytes` of it confirmed. */
export interface RollbackPoint {
  checkpoint: SharedArrayBuffer | null;
  log: SharedArrayBuffer;
  logBytes: number;
}

/** A new log starts this small; it doubles (into a new buffer) as it fills. */
const INITIAL_LOG_BYTES = 1024;
const ENTRY_HEADER = 5;
/** A log's buffer may be this big whatever its entries take (see `trim`). */
const KEEP_SPARE_BYTES = 64 * 1024;

/** A rollback point before slot 0, or at an imported state. */
export function rollbackPointAt(checkpoint: SharedArrayBuffer | null): RollbackPoint {
  return { checkpoint, log: new SharedArrayBuffer(INITIAL_LOG_BYTES), logBytes: 0 };
}

/** One logged input: whether it was slot 0, and its bytes (a view into the log). */
export interface LogEntry {
  init: boolean;
  input: Uint8Array;
}

/** The thread's handle on a log (see the file comment). */
export class RollbackLog {
  private data: Uint8Array;
  private view: DataView;
  private entryCount: number;

  /** Continues `log` after its first `length` bytes (anything after them is discarded). */
  constructor(
    log: SharedArrayBuffer,
    private length: number,
  ) {
    this.data = new Uint8Array(log);
    this.view = new DataView(log);
    this.entryCount = 0;
    for (let at = 0; at < length; at += ENTRY_HEADER + this.view.getUint32(at, true)) this.entryCount++;
  }

  /** A new, empty log (after a checkpoint). */
  static empty(): RollbackLog {
    return new RollbackLog(new SharedArrayBuffer(INITIAL_LOG_BYTES), 0);
  }

  /** The buffer now holding the log. It changes when the log outgrows it: the old buffer
   * is left as it was, so a host still holding it can rebuild from it. */
  get buffer(): SharedArrayBuffer {
    return this.data.buffer as SharedArrayBuffer;
  }

  /** Bytes of entries. */
  get byteLength(): number {
    return this.length;
  }

  /** Entries in the log. */
  get size(): number {
    return this.entryCount;
  }

  /** The bytes the log is in (for writing an entry in place: `reserve`, then `commit`). */
  get bytes(): Uint8Array {
    return this.data;
  }

  /**
   * Makes room for an entry of up to `maxBytes` after the last one (moving the log to a
   * bigger buffer if needed) and returns where its input bytes go in `bytes`. The runner
   * writes a step's input there, lets the module read it from there, and commits it only if
   * the step succeeded: the input is written once and never copied into the log.
   */
  reserve(maxBytes: number): number {
    const needed = this.length + ENTRY_HEADER + maxBytes;
    if (needed > this.data.byteLength) {
      const grown = new Uint8Array(new SharedArrayBuffer(Math.max(needed, 2 * this.data.byteLength)));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
      this.view = new DataView(grown.buffer);
    }
    return this.length + ENTRY_HEADER;
  }

  /** Makes the `size` bytes written at `reserve`'s offset the next entry. */
  commit(init: boolean, size: number): void {
    this.view.setUint32(this.length, size, true);
    this.data[this.length + 4] = init ? 1 : 0;
    this.length += ENTRY_HEADER + size;
    this.entryCount++;
  }

  /** Appends a copy of `input` as the next entry. */
  append(init: boolean, input: Uint8Array): void {
    const at = this.reserve(input.byteLength);
    this.data.set(input, at);
    this.commit(init, input.byteLength);
  }

  /**
   * Moves the log to a smaller buffer when room reserved for a large input that was never
   * committed (a failed or dry step) left it mostly empty, so an idle runner holds little
   * more than its entries. Like growing, this leaves the old buffer as it was.
   */
  trim(): void {
    const capacity = this.data.byteLength;
    if (capacity <= KEEP_SPARE_BYTES || capacity <= 4 * this.length) return;
    const trimmed = new Uint8Array(new SharedArrayBuffer(Math.max(INITIAL_LOG_BYTES, 2 * this.length)));
    trimmed.set(this.data.subarray(0, this.length));
    this.data = trimmed;
    this.view = new DataView(trimmed.buffer);
  }

  /** Every entry, oldest first. */
  *entries(): Generator<LogEntry> {
    for (let at = 0; at < this.length;) {
      const size = this.view.getUint32(at, true);
      const start = at + ENTRY_HEADER;
      yield { init: this.data[at + 4] === 1, input: this.data.subarray(start, start + size) };
      at = start + size;
    }
  }
}
