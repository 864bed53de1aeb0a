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
