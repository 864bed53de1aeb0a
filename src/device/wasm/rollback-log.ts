/**
 * The rollback log of one wasm@1.0 process: the inputs of the slots that succeeded since
 * its checkpoint, in a SharedArrayBuffer. The wasm thread appends to it; the main thread
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
  private bytes: Uint8Array;
  private view: DataView;
  private entryCount: number;

  /** Continues `log` after its first `length` bytes (anything after them is discarded). */
  constructor(
    log: SharedArrayBuffer,
    private length: number,
  ) {
    this.bytes = new Uint8Array(log);
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
    return this.bytes.buffer as SharedArrayBuffer;
  }

  /** Bytes of entries. */
  get byteLength(): number {
    return this.length;
  }

  /** Entries in the log. */
  get size(): number {
    return this.entryCount;
  }

  append(init: boolean, input: Uint8Array): void {
    const needed = this.length + ENTRY_HEADER + input.byteLength;
    if (needed > this.bytes.byteLength) {
      const grown = new Uint8Array(new SharedArrayBuffer(Math.max(needed, 2 * this.bytes.byteLength)));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    this.view.setUint32(this.length, input.byteLength, true);
    this.bytes[this.length + 4] = init ? 1 : 0;
    this.bytes.set(input, this.length + ENTRY_HEADER);
    this.length = needed;
    this.entryCount++;
  }

  /** Every entry, oldest first. */
  *entries(): Generator<LogEntry> {
    for (let at = 0; at < this.length;) {
      const size = this.view.getUint32(at, true);
      const start = at + ENTRY_HEADER;
      yield { init: this.bytes[at + 4] === 1, input: this.bytes.subarray(start, start + size) };
      at = start + size;
    }
  }
}
