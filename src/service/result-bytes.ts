/**
 * The protobuf bytes of a response whose only field is `SlotResult result = 1` (AwaitResponse,
 * ComputeResponse, SubscribeResponse and DryRunResponse all have that shape), written straight
 * from a domain SlotResult: the same bytes as ts-proto's
 * `SubscribeResponse.encode({ result: toWireResult(result) })` (test/unit/service/result-bytes.test.ts
 * checks that byte for byte), without the wire objects, the Map of tags or the generic writer.
 *
 * One pass, straight into the bytes returned: a nested message's length
 * is written after its contents, in the one byte kept for it before them (the contents move
 * up in the rare case it needs more), and ASCII strings are written as they are checked.
 * A stream's results share their process id, whose bytes are kept from the last result.
 */
import type { Message } from "../core/message.js";
import type { SlotResult } from "../core/result.js";
import { decodeResult } from "../store/codec.js";

const MAX_U64 = 2n ** 64n - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Strings up to this many UTF-16 units are tried as ASCII, a byte at a time. */
const SHORT = 64;
/** Responses are written into slabs of this size, each returned as a view of its slab: a
 * slab lives as long as one of its responses is held (at most 16 KiB kept per response held,
 * twice Buffer's own pool); a response that may need more than an eighth of one gets a
 * buffer of its own. */
const SLAB_BYTES = 16 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabAt = 0;
/** The last process id written and its field (tag, length, UTF-8 bytes). */
let lastProcessId = "";
let lastProcessIdField = Buffer.alloc(0);

/** The response bytes (field 1 = the result). */
export function encodeResultResponse(result: SlotResult): Buffer {
  const bound = maxSize(result);
  if (bound > SLAB_BYTES / 8) {
    const own = Buffer.allocUnsafe(bound);
    own[0] = 0x0a;
    return own.subarray(0, closeLength(own, 1, writeResult(own, 2, result)));
  }
  if (slabAt + bound > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabAt = 0;
  }
  const start = slabAt;
  slab[start] = 0x0a;
  const end = closeLength(slab, start + 1, writeResult(slab, start + 2, result));
  slabAt = end;
  return slab.subarray(start, end);
}

/** At least the bytes the response takes (3 a UTF-16 unit, lengths at their widest). */
function maxSize(r: SlotResult): number {
  let size = 64 + 3 * (r.processId.length + r.messageId.length);
  const output = r.output;
  if (output !== undefined) {
    const tags = output.tags;
    for (const key of Object.keys(tags)) size += 24 + 3 * (key.length + (tags[key] ?? "").length);
    size += 16 + output.data.byteLength;
  }
  if (r.error !== undefined) size += 48 + 3 * (r.error.phase.length + r.error.message.length);
  return size;
}

function writeResult(out: Buffer, at: number, r: SlotResult): number {
  at = writeProcessId(out, at, r.processId);
  at = writeU64(out, at, 0x10, r.slot);
  at = writeString(out, at, 0x1a, r.messageId);
  if (r.output) {
    out[at] = 0x22;
    at = closeLength(out, at + 1, writeMessage(out, at + 2, r.output));
  }
  if (r.error) {
    out[at] = 0x2a;
    let inner = writeString(out, at + 2, 0x0a, r.error.phase);
    inner = writeU64(out, inner, 0x10, r.error.attemptedSlot);
    inner = writeString(out, inner, 0x1a, r.error.message);
    at = closeLength(out, at + 1, inner);
  }
  return at;
}

function writeMessage(out: Buffer, at: number, m: Message): number {
  const tags = m.tags;
  for (const key of Object.keys(tags)) {
    out[at] = 0x0a;
    const inner = writeString(out, writeString(out, at + 2, 0x0a, key), 0x12, tags[key] ?? "");
    at = closeLength(out, at + 1, inner);
  }
  const data = m.data;
  if (data.byteLength !== 0) {
    out[at++] = 0x12;
    at = writeVarint(out, at, data.byteLength);
    out.set(data, at);
    at += data.byteLength;
  }
  return at;
}

/**
 * Writes the length of the contents [lengthAt + 1, end) in the byte kept for it at
 * `lengthAt`, moving the contents up when the length takes more than one byte; returns the
 * new end.
 */
function closeLength(out: Buffer, lengthAt: number, end: number): number {
  const length = end - lengthAt - 1;
  if (length < 0x80) {
    out[lengthAt] = length;
    return end;
  }
  const extra = varintSize(length) - 1;
  out.copyWithin(lengthAt + 1 + extra, lengthAt + 1, end);
  writeVarint(out, lengthAt, length);
  return end + extra;
}

/** Field 1 of the result, the process id: kept from the last call when it is the same. */
function writeProcessId(out: Buffer, at: number, processId: string): number {
  if (processId === "") return at;
  if (processId !== lastProcessId) {
    const field = Buffer.allocUnsafe(16 + 3 * processId.length);
    lastProcessIdField = field.subarray(0, writeString(field, 0, 0x0a, processId));
    lastProcessId = processId;
  }
  lastProcessIdField.copy(out, at);
  return at + lastProcessIdField.length;
}

/** A string field (nothing when empty: proto3 omits it), in UTF-8 as Buffer writes it (a
 * lone surrogate becomes U+FFFD). */
function writeString(out: Buffer, at: number, tag: number, s: string): number {
  const n = s.length;
  if (n === 0) return at;
  out[at] = tag;
  if (n <= SHORT) {
    // ASCII: its length (below 0x80, one byte) is known, and it is written while checked.
    const start = at + 2;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      out[start + i] = c;
    }
    if (i === n) {
      writeVarint(out, at + 1, n);
      return start + n;
    }
  }
  const bytes = Buffer.byteLength(s, "utf8");
  at = writeVarint(out, at + 1, bytes);
  return at + out.write(s, at, bytes, "utf8");
}

function writeU64(out: Buffer, at: number, tag: number, n: bigint): number {
  if (n === 0n) return at;
  if (n < 0n || n > MAX_U64) throw new RangeError(`slot ${n} is not an unsigned 64-bit integer`);
  out[at++] = tag;
  if (n <= MAX_SAFE) return writeVarint(out, at, Number(n));
  let v = n;
  while (v >= 0x80n) {
    out[at++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  out[at++] = Number(v);
  return at;
}

/** A varint of a non-negative safe integer. */
function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/**
 * The same response bytes for a result read back from the store and left in its encoding
 * (store/codec.ts: checked well formed when it was read), written in one pass over its bytes:
 * its strings and data are copied as they are stored (the store holds them in UTF-8, as the
 * response does), with no string decoded and no object made. encodeResultResponse writes a
 * decoded result's tags in the order of its object's keys, which is the stored (canonical)
 * order unless a tag is named like an array index (JavaScript puts those first), or two
 * names differed only in lone surrogates (stored alike, as U+FFFD, so the decoded object
 * keeps one). Such a rare result is decoded and encoded instead, so the bytes are the same
 * either way.
 */
export function encodeStoredResultResponse(value: Uint8Array): Buffer {
  // Every stored field has a 4- or 8-byte length or number where the response has at most
  // a tag and a 5-byte varint, plus the nested messages' headers: twice the value and a
  // little more is always enough.
  const bound = 2 * value.length + 32;
  let out: Buffer;
  let start: number;
  if (bound > SLAB_BYTES / 8) {
    out = Buffer.allocUnsafe(bound);
    start = 0;
  } else {
    if (slabAt + bound > SLAB_BYTES) {
      slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      slabAt = 0;
    }
    out = slab;
    start = slabAt;
  }
  const end = writeStoredResult(value, out, start);
  if (end < 0) return encodeResultResponse(decodeResult(value));
  if (out === slab) slabAt = end;
  return out.subarray(start, end);
}

/** Writes the response of a stored result at `start` of `out`; returns its end, or -1 when
 * its tags need the decoded way (see encodeStoredResultResponse). */
function writeStoredResult(src: Uint8Array, out: Buffer, start: number): number {
  out[start] = 0x0a;
  let at = start + 2;
  let read = 1; // the format byte
  // process id, slot, message id
  let length = u32(src, read);
  at = copyBytes(out, at, 0x0a, src, read + 4, length);
  read += 4 + length;
  at = writeStoredU64(out, at, 0x10, src, read);
  read += 8;
  length = u32(src, read);
  at = copyBytes(out, at, 0x1a, src, read + 4, length);
  read += 4 + length;
  const flags = src[read++] as number;
  if (flags & 1) {
    out[at] = 0x22;
    const outputAt = at + 1;
    at += 2;
    const count = u32(src, read);
    read += 4;
    let previous = -1;
    let previousLength = 0;
    for (let i = 0; i < count; i++) {
      const nameLength = u32(src, read);
      const name = read + 4;
      if (nameLength > 0 && nameLength <= 10 && isArrayIndex(src, name, nameLength)) return -1;
      if (previous >= 0 && previousLength === nameLength && sameBytes(src, previous, name, nameLength)) return -1;
      previous = name;
      previousLength = nameLength;
      read = name + nameLength;
      const valueLength = u32(src, read);
      out[at] = 0x0a;
      const entryAt = at + 1;
      at = copyBytes(out, at + 2, 0x0a, src, name, nameLength);
      at = copyBytes(out, at, 0x12, src, read + 4, valueLength);
      at = closeLength(out, entryAt, at);
      read += 4 + valueLength;
    }
    const high = u32(src, read);
    const dataLength = high * TWO_32 + u32(src, read + 4);
    at = copyBytes(out, at, 0x12, src, read + 8, dataLength);
    read += 8 + dataLength;
    at = closeLength(out, outputAt, at);
  }
  if (flags & 2) {
    out[at] = 0x2a;
    const errorAt = at + 1;
    at = writeString(out, at + 2, 0x0a, src[read] === 0 ? "compute" : "schedule");
    at = writeStoredU64(out, at, 0x10, src, read + 1);
    read += 9;
    length = u32(src, read);
    at = copyBytes(out, at, 0x1a, src, read + 4, length);
    at = closeLength(out, errorAt, at);
  }
  return closeLength(out, start + 1, at);
}

const TWO_32 = 2 ** 32;

/** The big-endian u32 at `at` of `src`. */
function u32(src: Uint8Array, at: number): number {
  return (
    (((src[at] as number) << 24) |
      ((src[at + 1] as number) << 16) |
      ((src[at + 2] as number) << 8) |
      (src[at + 3] as number)) >>>
    0
  );
}

/** Whether the `length` bytes at `a` and at `b` of `src` are the same. */
function sameBytes(src: Uint8Array, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (src[a + i] !== src[b + i]) return false;
  return true;
}

/** `length` bytes of `src` from `from` as a length-delimited field (nothing when empty). */
function copyBytes(out: Buffer, at: number, tag: number, src: Uint8Array, from: number, length: number): number {
  if (length === 0) return at;
  out[at] = tag;
  at = writeVarint(out, at + 1, length);
  // A loop for short fields (ids, tags), TypedArray#set for longer ones: each is the
  // cheaper side of about 48 bytes.
  if (length <= 48) for (let i = 0; i < length; i++) out[at + i] = src[from + i] as number;
  else out.set(src.subarray(from, from + length), at);
  return at + length;
}

/** The stored u64 at `from` of `src` as a varint field (nothing when zero). */
function writeStoredU64(out: Buffer, at: number, tag: number, src: Uint8Array, from: number): number {
  const high = u32(src, from);
  if (high < 0x200000) {
    const n = high * TWO_32 + u32(src, from + 4);
    if (n === 0) return at;
    out[at] = tag;
    return writeVarint(out, at + 1, n);
  }
  return writeU64(out, at, tag, (BigInt(high) << 32n) | BigInt(u32(src, from + 4)));
}

/** Whether a tag name of 1 to 10 bytes is an array index ("0", "7", "4294967294"). */
function isArrayIndex(src: Uint8Array, from: number, length: number): boolean {
  if (length > 1 && src[from] === 0x30) return false;
  let n = 0;
  for (let i = from; i < from + length; i++) {
    const digit = (src[i] as number) - 0x30;
    if (digit < 0 || digit > 9) return false;
    n = n * 10 + digit;
  }
  return n <= 2 ** 32 - 2;
}
