/**
 * A growable scratch buffer that binary encodings write into field by field, then copy out
 * at their exact size (or hash in place). One instance serves a whole module: encoding a
 * value costs one allocation (its final copy), not one Buffer per field. Not re-entrant:
 * a value is written and taken before the next one starts.
 */

const TWO_32 = 2 ** 32;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** A scratch buffer that grew past this is dropped after use, so one large value does not
 * pin its size for the life of the process. */
const KEEP_BYTES = 1024 * 1024;

export class ByteWriter {
  private buf: Buffer;
  private at = 0;

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

  /** u32be(byte length) then the UTF-8 bytes of `s`. */
  str(s: string): this {
    this.room(4 + 3 * s.length); // a UTF-16 code unit is at most 3 UTF-8 bytes
    const n = this.buf.write(s, this.at + 4);
    this.buf.writeUInt32BE(n, this.at);
    this.at += 4 + n;
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
