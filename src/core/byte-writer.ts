/**
 * A growable scratch buffer that binary encodings write into field by field, then copy out
 * at their exact size (or hash in place). One instance serves a whole module: encoding a
 * value costs one allocation (its final copy), not one Buffer per field. Not re-entrant:
 * a value is written and taken before the next one starts.
 */

interface RecentString {
  text: string;
  bytes: Buffer | undefined;
}

const TWO_32 = 2 ** 32;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** A scratch buffer that grew past this is dropped after use, so one large value does not
 * pin its size for the life of the process. */
const KEEP_BYTES = 1024 * 1024;

/** Strings up to this many code units take the ASCII path. */
const SHORT = 16;

export class ByteWriter {
  private buf: Buffer;
  private at = 0;
  /** The two longer strings written last, with their bytes once written twice. */
  private recent: [RecentString, RecentString] = [
    { text: "", bytes: undefined },
    { text: "", bytes: undefined },
  ];

  constructor(private readonly initialBytes = 4096) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written since the last reset. */
  get length(): number {
    return this.at;
  }

  /** Starts a new value. */
  reset(): this {
    if (this.buf.length > KEEP_BYTES) this.buf = Buffer.allocUnsafe(this.initialBytes);
    this.at = 0;
    return this;
  }

  u8(n: number): this {
    this.room(1);
    this.buf[this.at++] = n;
    return this;
  }

  u32(n: number): this {
    this.room(4);
    this.buf.writeUInt32BE(n, this.at);
    this.at += 4;
    return this;
  }

  /** An unsigned 64-bit integer, big-endian; throws RangeError outside 0..2^64−1. */
  u64(n: bigint): this {
    this.room(8);
    if (n >= 0n && n <= MAX_SAFE) this.safeU64(Number(n));
    else this.buf.writeBigUInt64BE(n, this.at);
    this.at += 8;
    return this;
  }

  /** A length as u64 (a non-negative safe integer, which every byte length is). */
  u64Length(n: number): this {
    this.room(8);
    this.safeU64(n);
    this.at += 8;
    return this;
  }

  f64(n: number): this {
    this.room(8);
    this.buf.writeDoubleBE(n, this.at);
    this.at += 8;
    return this;
  }

  /** u32be(byte length) then the UTF-8 bytes of `s`. Short ASCII strings are copied code
   * unit by code unit (cheaper than a call into the UTF-8 encoder); a longer string written
   * twice in a row of calls (a process id, on every result of a batch) is copied from the
   * bytes kept the second time. */
  str(s: string): this {
    this.room(4 + 3 * s.length); // a UTF-16 code unit is at most 3 UTF-8 bytes
    const start = this.at + 4;
    let n: number;
    if (s.length <= SHORT) n = this.ascii(s, start);
    else n = this.cached(s, start);
    this.buf.writeUInt32BE(n, this.at);
    this.at = start + n;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.room(b.byteLength);
    this.buf.set(b, this.at);
    this.at += b.byteLength;
    return this;
  }

  /** The bytes written, as a view of the scratch buffer: valid only until the next write. */
  view(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  /** A fresh copy of the bytes written, of exactly their size. */
  copy(): Buffer {
    const out = Buffer.allocUnsafe(this.at);
    this.buf.copy(out, 0, 0, this.at);
    return out;
  }

  /** Writes `s` at `at` if it is ASCII (else as UTF-8); returns its byte length. */
  private ascii(s: string, at: number): number {
    const buf = this.buf;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return buf.write(s, at);
      buf[at + i] = c;
    }
    return s.length;
  }

  /** Writes `s` at `at` (from the kept bytes when it is one of the two strings seen last). */
  private cached(s: string, at: number): number {
    const [a, b] = this.recent;
    const hit = a.text === s ? a : b.text === s ? b : undefined;
    if (hit?.bytes !== undefined) {
      this.buf.set(hit.bytes, at);
      return hit.bytes.length;
    }
    const n = this.buf.write(s, at);
    if (hit !== undefined)
      hit.bytes = Buffer.from(this.buf.subarray(at, at + n)); // seen twice: keep its bytes
    else {
      this.recent = [{ text: s, bytes: undefined }, a]; // seen once: remember it, keep nothing yet
    }
    return n;
  }

  private safeU64(n: number): void {
    this.buf.writeUInt32BE(Math.floor(n / TWO_32), this.at);
    this.buf.writeUInt32BE(n >>> 0, this.at + 4);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}
