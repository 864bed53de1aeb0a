/**
 * Growable byte writing and sequential reading for the formats that cross between the main
 * thread and a wasm thread (step-batch.ts, outcome-batch.ts): little-endian integers,
 * length-prefixed UTF-8 strings and byte strings. Short ASCII strings, the common case for
 * tags and ids, take a loop in JavaScript instead of a call into the encoder.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Strings up to this many UTF-16 units try the ASCII loop first. */
const ASCII_FAST_PATH = 64;

/** A growable buffer written front to back. Its backing ArrayBuffer is never pooled, so it
 * can be transferred to another thread. */
export class ByteWriter {
  bytes: Buffer;
  view: DataView;
  /** Bytes written so far. */
  length = 0;

  constructor(capacity = 4096) {
    this.bytes = Buffer.from(new ArrayBuffer(Math.max(16, capacity)));
    this.view = new DataView(this.bytes.buffer);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const needed = this.length + n;
    if (needed <= this.bytes.byteLength) return;
    const grown = Buffer.from(new ArrayBuffer(Math.max(needed, this.bytes.byteLength * 2)));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  u64(value: bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, value, true);
    this.length += 8;
  }

  /** A string as u32 byte length + UTF-8 (lone surrogates become U+FFFD). */
  string(text: string): void {
    const units = text.length;
    this.reserve(4 + units * 3);
    const at = this.length + 4;
    let written = -1;
    if (units <= ASCII_FAST_PATH) {
      const bytes = this.bytes;
      let i = 0;
      for (; i < units; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) break;
        bytes[at + i] = code;
      }
      if (i === units) written = units;
    }
    if (written < 0) written = encoder.encodeInto(text, this.bytes.subarray(at)).written;
    this.view.setUint32(this.length, written, true);
    this.length = at + written;
  }

  /** Bytes as u32 length + the bytes. */
  byteString(bytes: Uint8Array): void {
    this.reserve(4 + bytes.byteLength);
    this.view.setUint32(this.length, bytes.byteLength, true);
    this.bytes.set(bytes, this.length + 4);
    this.length += 4 + bytes.byteLength;
  }

  /** Raw bytes, no length. */
  raw(bytes: Uint8Array): void {
    this.rawRange(bytes, 0, bytes.byteLength);
  }

  /** Raw bytes [start, end) of `src`, no length (short ones copied in a loop, which beats
   * a call into TypedArray.set). */
  rawRange(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.reserve(n);
    if (n <= 64) {
      const dst = this.bytes;
      let at = this.length;
      for (let i = start; i < end; i++) dst[at++] = src[i]!;
    } else this.bytes.set(src.subarray(start, end), this.length);
    this.length += n;
  }

  /** Bytes [start, end) of `src` as u32 length + the bytes. */
  byteRange(src: Uint8Array, start: number, end: number): void {
    this.u32(end - start);
    this.rawRange(src, start, end);
  }

  /** The written bytes (a plain view, cheaper to make than a Buffer's subarray; valid until
   * the next write). */
  written(): Uint8Array {
    return new Uint8Array(this.bytes.buffer, 0, this.length);
  }
}

/** Reads what a ByteWriter wrote, front to back. */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos = 0;

  constructor(buffer: ArrayBuffer) {
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
  }

  u8(): number {
    return this.bytes[this.pos++]!;
  }

  u32(): number {
    const value = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return value;
  }

  u64(): bigint {
    const value = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** A length-prefixed UTF-8 string. */
  string(): string {
    const length = this.u32();
    const start = this.pos;
    this.pos += length;
    return decodeUtf8(this.bytes, start, start + length);
  }

  /** The next `length` bytes, copied out (so they do not keep the batch alive). */
  bytesOf(length: number): Uint8Array {
    const start = this.pos;
    this.pos += length;
    return this.bytes.slice(start, start + length);
  }

  /** Skips a length-prefixed field; returns where its bytes start and end. */
  span(): [number, number] {
    const length = this.u32();
    const start = this.pos;
    this.pos += length;
    return [start, start + length];
  }
}

/** Strings up to this many bytes are decoded by a loop when they are ASCII. */
const ASCII_DECODE_LOOP = 24;

/** UTF-8 bytes [start, end) as a string; short ASCII without a call into the decoder (a
 * loop of one-character appends beats any native call for a handful of bytes). */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= ASCII_DECODE_LOOP) {
    let text = "";
    for (let i = start; i < end; i++) {
      const code = bytes[i]!;
      if (code >= 0x80) return decoder.decode(bytes.subarray(start, end));
      text += String.fromCharCode(code);
    }
    return text;
  }
  return decoder.decode(bytes.subarray(start, end));
}
