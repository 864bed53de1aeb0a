/**
 * The protobuf bytes of a response whose only field is `SlotResult result = 1` (AwaitResponse,
 * ComputeResponse, SubscribeResponse and DryRunResponse all have that shape), written straight
 * from a domain SlotResult in one allocation: the same bytes as ts-proto's
 * `SubscribeResponse.encode({ result: toWireResult(result) })` (test/unit/service/result-bytes.test.ts
 * checks that byte for byte), without the wire objects, the Map of tags or the generic writer.
 */
import type { Message } from "../core/message.js";
import type { SlotResult } from "../core/result.js";

const MAX_U64 = 2n ** 64n - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** The sizes measured for the result being encoded (string lengths in UTF-8 bytes, nested
 * message lengths), in the order the writing pass consumes them. */
const lengths: number[] = [];
let count = 0;

/** The response bytes (field 1 = the result). */
export function encodeResultResponse(result: SlotResult): Buffer {
  count = 0;
  const inner = resultSize(result);
  const out = Buffer.allocUnsafe(1 + varintSize(inner) + inner);
  count = 0;
  out[0] = 0x0a;
  const at = writeResult(out, writeVarint(out, 1, inner), result);
  if (at !== out.length) throw new Error(`result encoding wrote ${at} of ${out.length} bytes`);
  return out;
}

/** Keeps a place for a length measured later (a nested message's, which precedes it). */
function reserve(): number {
  lengths[count] = 0;
  return count++;
}

function resultSize(r: SlotResult): number {
  let size = stringField(r.processId) + u64Field(r.slot) + stringField(r.messageId);
  if (r.output) {
    const slot = reserve();
    const m = messageSize(r.output);
    lengths[slot] = m;
    size += 1 + varintSize(m) + m;
  }
  if (r.error) {
    const slot = reserve();
    const e = stringField(r.error.phase) + u64Field(r.error.attemptedSlot) + stringField(r.error.message);
    lengths[slot] = e;
    size += 1 + varintSize(e) + e;
  }
  return size;
}

function messageSize(m: Message): number {
  let size = 0;
  for (const key of Object.keys(m.tags)) {
    const slot = reserve();
    const entry = stringField(key) + stringField(m.tags[key] ?? "");
    lengths[slot] = entry;
    size += 1 + varintSize(entry) + entry;
  }
  const data = m.data.byteLength;
  if (data !== 0) size += 1 + varintSize(data) + data;
  return size;
}

/** The size of a string field (0 when empty: proto3 omits it), noting its UTF-8 length. */
function stringField(s: string): number {
  if (s === "") return 0;
  const n = utf8Length(s);
  lengths[count++] = n;
  return 1 + varintSize(n) + n;
}

function u64Field(n: bigint): number {
  if (n === 0n) return 0;
  if (n < 0n || n > MAX_U64) throw new RangeError(`slot ${n} is not an unsigned 64-bit integer`);
  return 1 + u64Size(n);
}

function writeResult(out: Buffer, at: number, r: SlotResult): number {
  at = writeString(out, at, 0x0a, r.processId);
  at = writeU64(out, at, 0x10, r.slot);
  at = writeString(out, at, 0x1a, r.messageId);
  if (r.output) {
    out[at++] = 0x22;
    at = writeVarint(out, at, lengths[count++] as number);
    at = writeMessage(out, at, r.output);
  }
  if (r.error) {
    out[at++] = 0x2a;
    at = writeVarint(out, at, lengths[count++] as number);
    at = writeString(out, at, 0x0a, r.error.phase);
    at = writeU64(out, at, 0x10, r.error.attemptedSlot);
    at = writeString(out, at, 0x1a, r.error.message);
  }
  return at;
}

function writeMessage(out: Buffer, at: number, m: Message): number {
  for (const key of Object.keys(m.tags)) {
    out[at++] = 0x0a;
    at = writeVarint(out, at, lengths[count++] as number);
    at = writeString(out, at, 0x0a, key);
    at = writeString(out, at, 0x12, m.tags[key] ?? "");
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

function writeString(out: Buffer, at: number, tag: number, s: string): number {
  if (s === "") return at;
  const n = lengths[count++] as number;
  out[at++] = tag;
  at = writeVarint(out, at, n);
  if (n === s.length && n <= 64) {
    for (let i = 0; i < n; i++) out[at + i] = s.charCodeAt(i); // ASCII
  } else out.write(s, at, n, "utf8");
  return at + n;
}

function writeU64(out: Buffer, at: number, tag: number, n: bigint): number {
  if (n === 0n) return at;
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

function u64Size(n: bigint): number {
  if (n <= MAX_SAFE) return varintSize(Number(n));
  let size = 1;
  for (let v = n; v >= 0x80n; v >>= 7n) size++;
  return size;
}

/** The UTF-8 length of a string as Buffer writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
function utf8Length(s: string): number {
  if (s.length > 64) return Buffer.byteLength(s, "utf8");
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
