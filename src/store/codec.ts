/**
 * Exact binary encodings of stored values (the keys are in keys.ts). Every value starts
 * with a format byte (FORMAT = 1) so a later layout can be told apart. Integers are
 * big-endian; slots are u64 (bigint, exact to 2^64−1); timestamps are f64 (exact for any
 * JS number); strings are UTF-8 with a u32be length.
 *
 * - message:        FORMAT, canonicalBytes(message) (docs/design.md §1.1: the bytes its id hashes)
 * - schedule entry: FORMAT, u64 slot, str messageId, f64 timestampMs, canonical message
 * - result:         FORMAT, str processId, u64 slot, str messageId, u8 flags
 *                   (1 = output, 2 = error), [canonical output], [u8 phase, u64 attemptedSlot,
 *                   str message]  — phase 0 = compute, 1 = schedule
 *
 * Snapshot states and module bytes are stored raw. Decoders copy, so the results never
 * alias a buffer the database may reuse, and reject truncated or trailing bytes.
 */
import { ByteWriter } from "../core/byte-writer.js";
import { writeCanonical, type Message } from "../core/message.js";
import type { SlotError, SlotPhase, SlotResult } from "../core/result.js";
import type { EncodedResult, EncodedScheduleEntry, ScheduleEntry } from "./store.js";

/** The format byte every encoded value starts with. */
export const FORMAT = 1;

const PHASES: readonly SlotPhase[] = ["compute", "schedule"];
const HAS_OUTPUT = 1;
const HAS_ERROR = 2;
const TWO_32 = 2 ** 32;
/** Decoded strings up to this many bytes are always decoded afresh. */
const SHORT = 16;
/** The two longer strings decoded most recently, the latest first. A result holds two ids,
 * its process's (the same for every result of the process) and its message's (usually new):
 * with one entry each would replace the other at every read and never match. */
let recent = "";
let older = "";
/** Empty data, shared by every decoded message that has none (nothing can be written to it). */
const EMPTY = new Uint8Array(0);
/** Every value is written here, then copied out at its exact size: one allocation each. */
const scratch = new ByteWriter();

/** Encodes a message (a process definition) exactly. */
export function encodeMessage(msg: Message): Uint8Array {
  const w = scratch.reset().u8(FORMAT);
  writeCanonical(w, msg);
  return w.copy();
}

/** Decodes what encodeMessage wrote (the first `size` bytes of `bytes`, default all of
 * them); throws on malformed bytes. */
export function decodeMessage(bytes: Uint8Array, size?: number): Message {
  const r = new Reader(bytes, size);
  r.format();
  const msg = r.message();
  r.end();
  return msg;
}

/** Encodes a schedule entry exactly, slot included. */
export function encodeScheduleEntry(entry: ScheduleEntry): Uint8Array {
  const w = scratch.reset().u8(FORMAT).u64(entry.slot).str(entry.messageId).f64(entry.timestampMs);
  writeCanonical(w, entry.message);
  return w.copy();
}

/** Decodes what encodeScheduleEntry wrote (the first `size` bytes, default all); throws on
 * malformed bytes. */
export function decodeScheduleEntry(bytes: Uint8Array, size?: number): ScheduleEntry {
  const r = new Reader(bytes, size);
  r.format();
  const entry: ScheduleEntry = { slot: r.u64(), messageId: r.str(), timestampMs: r.f64(), message: r.message() };
  r.end();
  return entry;
}

/** Decodes what encodeScheduleEntry wrote but its message, whose canonical bytes are checked
 * to be well formed (every length within bounds, nothing trailing) and copied, not decoded. */
export function decodeEncodedScheduleEntry(bytes: Uint8Array, size?: number): EncodedScheduleEntry {
  const r = new Reader(bytes, size);
  r.format();
  const slot = r.u64();
  const messageId = r.str();
  r.f64();
  return { slot, messageId, canonical: r.canonicalMessage() };
}

/** Encodes a slot result exactly: whichever of output and error are present. */
export function encodeResult(result: SlotResult): Uint8Array {
  const phase = result.error ? PHASES.indexOf(result.error.phase) : 0;
  if (phase < 0) throw new TypeError(`unknown slot phase ${String(result.error?.phase)}`);
  const w = scratch.reset().u8(FORMAT).str(result.processId).u64(result.slot).str(result.messageId);
  w.u8((result.output ? HAS_OUTPUT : 0) | (result.error ? HAS_ERROR : 0));
  if (result.output) writeCanonical(w, result.output);
  if (result.error) w.u8(phase).u64(result.error.attemptedSlot).str(result.error.message);
  return w.copy();
}

/** Decodes what encodeResult wrote (the first `size` bytes, default all); absent parts stay
 * absent (no `undefined` keys). */
export function decodeResult(bytes: Uint8Array, size?: number): SlotResult {
  const r = new Reader(bytes, size);
  r.format();
  const result: SlotResult = { processId: r.str(), slot: r.u64(), messageId: r.str() };
  const flags = r.u8();
  if (flags & ~(HAS_OUTPUT | HAS_ERROR)) throw new RangeError(`bad result flags ${flags}`);
  if (flags & HAS_OUTPUT) result.output = r.message();
  if (flags & HAS_ERROR) {
    const phase = PHASES[r.u8()];
    if (phase === undefined) throw new RangeError("bad slot phase");
    const error: SlotError = { phase, attemptedSlot: r.u64(), message: r.str() };
    result.error = error;
  }
  r.end();
  return result;
}

/** Checks what encodeResult wrote (the first `size` bytes, default all) as decodeResult would,
 * without decoding it: its slot, and a copy of the value. */
export function decodeEncodedResult(bytes: Uint8Array, size?: number): EncodedResult {
  const r = new Reader(bytes, size);
  const slot = r.checkResult();
  return { slot, value: copied(bytes, r.consumed) };
}

/** Copies are made into slabs of this size, each copy a view of its slab (a new backing
 * store per value costs more than the copy): a slab lives as long as one of its views;
 * a value over an eighth of one gets a buffer of its own. */
const SLAB_BYTES = 16 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabAt = 0;

/** A copy of the first `size` bytes of `bytes` that no later copy overwrites. */
function copied(bytes: Uint8Array, size: number): Uint8Array {
  if (size > SLAB_BYTES / 8) return Uint8Array.prototype.slice.call(bytes, 0, size);
  if (slabAt + size > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabAt = 0;
  }
  const target = slab;
  const start = slabAt;
  // Through a view of exactly `size` bytes: lmdb-js's read buffer reports its value's size
  // as its length, but TypedArray#set would copy the whole buffer.
  target.set(bytes.subarray(0, size), start);
  slabAt += size;
  return target.subarray(start, slabAt);
}

/** Whether the `length` bytes of `bytes` at `start` are the ASCII string `text` (ids are
 * ASCII; a string with any other character never matches, and is decoded). A loop: for ids
 * of tens of bytes it is several times cheaper than a call into Buffer#compare, and it needs
 * no copy of the bytes the string was decoded from. */
function sameAscii(bytes: Uint8Array, start: number, length: number, text: string): boolean {
  if (text.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const byte = bytes[start + i] as number;
    if (byte >= 0x80 || byte !== text.charCodeAt(i)) return false;
  }
  return true;
}

/** Reads fields in order from the first `size` bytes; every read checks bounds, so truncated
 * input throws. Nothing read aliases the bytes (strings are decoded, data is copied), so the
 * bytes may be a buffer the database reuses. */
class Reader {
  private at = 0;
  private readonly view: Buffer;
  private readonly size: number;

  constructor(bytes: Uint8Array, size = bytes.length) {
    this.view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.size = size;
  }

  format(): void {
    const f = this.u8();
    if (f !== FORMAT) throw new RangeError(`unknown value format ${f}`);
  }
  u8(): number {
    return this.view[this.take(1)] as number;
  }
  u32(): number {
    return this.view.readUInt32BE(this.take(4));
  }
  /** A u64; one BigInt for any slot below 2^53 (the two halves are combined as a number). */
  u64(): bigint {
    const at = this.take(8);
    const high = this.view.readUInt32BE(at);
    if (high < 0x200000) return BigInt(high * TWO_32 + this.view.readUInt32BE(at + 4));
    return this.view.readBigUInt64BE(at);
  }
  f64(): number {
    return this.view.readDoubleBE(this.take(8));
  }
  str(): string {
    const len = this.u32();
    const start = this.take(len);
    if (len <= SHORT) return this.view.toString("utf8", start, start + len);
    // A longer string equal to one of the two decoded last (the process id of every result,
    // a message id repeated): the same string, without decoding or allocating it again.
    const latest = recent;
    if (sameAscii(this.view, start, len, latest)) return latest;
    const other = older;
    if (sameAscii(this.view, start, len, other)) {
      older = latest;
      recent = other;
      return other;
    }
    const text = this.view.toString("utf8", start, start + len);
    older = latest;
    recent = text;
    return text;
  }
  /** Bytes read so far. */
  get consumed(): number {
    return this.at;
  }
  /** Checks a whole result value as decodeResult does, keeping nothing; returns its slot. */
  checkResult(): bigint {
    this.format();
    this.take(this.u32());
    const slot = this.u64();
    this.take(this.u32());
    const flags = this.u8();
    if (flags & ~(HAS_OUTPUT | HAS_ERROR)) throw new RangeError(`bad result flags ${flags}`);
    if (flags & HAS_OUTPUT) {
      const count = this.u32();
      for (let i = 0; i < 2 * count; i++) this.take(this.u32());
      const len = this.u64();
      if (len > BigInt(this.size - this.at)) throw new RangeError("truncated message data");
      this.take(Number(len));
    }
    if (flags & HAS_ERROR) {
      if (PHASES[this.u8()] === undefined) throw new RangeError("bad slot phase");
      this.u64();
      this.take(this.u32());
    }
    this.end();
    return slot;
  }
  /** A canonical message (core/message writeCanonical); tags rebuilt as own data properties,
   * so a tag named "__proto__" stays a tag. */
  message(): Message {
    const count = this.u32();
    const tags: Record<string, string> = {};
    for (let i = 0; i < count; i++) {
      const name = this.str();
      const value = this.str();
      if (name === "__proto__")
        Object.defineProperty(tags, name, { value, enumerable: true, writable: true, configurable: true });
      else tags[name] = value;
    }
    const len = this.u64();
    if (len > BigInt(this.size - this.at)) throw new RangeError("truncated message data");
    const size = Number(len);
    const start = this.take(size);
    if (size === 0) return { tags, data: EMPTY };
    const data = new Uint8Array(size);
    data.set(this.view.subarray(start, start + size));
    return { tags, data };
  }
  /** The rest of the value, a canonical message, walked (not decoded) and copied. */
  canonicalMessage(): Uint8Array {
    const start = this.at;
    const count = this.u32();
    for (let i = 0; i < 2 * count; i++) this.take(this.u32());
    const len = this.u64();
    if (len > BigInt(this.size - this.at)) throw new RangeError("truncated message data");
    this.take(Number(len));
    this.end();
    const out = new Uint8Array(this.at - start);
    out.set(this.view.subarray(start, this.at));
    return out;
  }
  end(): void {
    if (this.at !== this.size) throw new RangeError(`${this.size - this.at} trailing bytes`);
  }

  private take(n: number): number {
    if (this.at + n > this.size) throw new RangeError("truncated value");
    const start = this.at;
    this.at += n;
    return start;
  }
}
