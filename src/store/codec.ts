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
import { canonicalBytes, type Message } from "../core/message.js";
import type { SlotError, SlotPhase, SlotResult } from "../core/result.js";
import type { ScheduleEntry } from "./store.js";

/** The format byte every encoded value starts with. */
export const FORMAT = 1;

const PHASES: readonly SlotPhase[] = ["compute", "schedule"];
const HAS_OUTPUT = 1;
const HAS_ERROR = 2;

/** Encodes a message (a process definition) exactly. */
export function encodeMessage(msg: Message): Uint8Array {
  return new Writer().u8(FORMAT).message(msg).done();
}

/** Decodes what encodeMessage wrote; throws on malformed bytes. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new Reader(bytes);
  r.format();
  const msg = r.message();
  r.end();
  return msg;
}

/** Encodes a schedule entry exactly, slot included. */
export function encodeScheduleEntry(entry: ScheduleEntry): Uint8Array {
  return new Writer()
    .u8(FORMAT)
    .u64(entry.slot)
    .str(entry.messageId)
    .f64(entry.timestampMs)
    .message(entry.message)
    .done();
}

/** Decodes what encodeScheduleEntry wrote; throws on malformed bytes. */
export function decodeScheduleEntry(bytes: Uint8Array): ScheduleEntry {
  const r = new Reader(bytes);
  r.format();
  const entry: ScheduleEntry = { slot: r.u64(), messageId: r.str(), timestampMs: r.f64(), message: r.message() };
  r.end();
  return entry;
}

/** Encodes a slot result exactly: whichever of output and error are present. */
export function encodeResult(result: SlotResult): Uint8Array {
  const w = new Writer().u8(FORMAT).str(result.processId).u64(result.slot).str(result.messageId);
  w.u8((result.output ? HAS_OUTPUT : 0) | (result.error ? HAS_ERROR : 0));
  if (result.output) w.message(result.output);
  if (result.error) {
    const phase = PHASES.indexOf(result.error.phase);
    if (phase < 0) throw new TypeError(`unknown slot phase ${String(result.error.phase)}`);
    w.u8(phase).u64(result.error.attemptedSlot).str(result.error.message);
  }
  return w.done();
}

/** Decodes what encodeResult wrote; absent parts stay absent (no `undefined` keys). */
export function decodeResult(bytes: Uint8Array): SlotResult {
  const r = new Reader(bytes);
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

/** Appends fields to a list of chunks; `done` joins them into one fresh buffer. */
class Writer {
  private readonly chunks: Uint8Array[] = [];

  u8(n: number): this {
    this.chunks.push(Uint8Array.of(n));
    return this;
  }
  u64(n: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n); // throws RangeError outside 0..2^64−1
    this.chunks.push(b);
    return this;
  }
  f64(n: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(n);
    this.chunks.push(b);
    return this;
  }
  str(s: string): this {
    const bytes = Buffer.from(s, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    this.chunks.push(len, bytes);
    return this;
  }
  message(msg: Message): this {
    this.chunks.push(canonicalBytes(msg));
    return this;
  }
  done(): Uint8Array {
    const size = this.chunks.reduce((n, c) => n + c.byteLength, 0);
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}

/** Reads fields in order; every read checks bounds, so truncated input throws. */
class Reader {
  private at = 0;
  private readonly view: Buffer;

  constructor(bytes: Uint8Array) {
    this.view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  format(): void {
    const f = this.u8();
    if (f !== FORMAT) throw new RangeError(`unknown value format ${f}`);
  }
  u8(): number {
    return this.view.readUInt8(this.take(1));
  }
  u32(): number {
    return this.view.readUInt32BE(this.take(4));
  }
  u64(): bigint {
    return this.view.readBigUInt64BE(this.take(8));
  }
  f64(): number {
    return this.view.readDoubleBE(this.take(8));
  }
  str(): string {
    const len = this.u32();
    const start = this.take(len);
    return this.view.toString("utf8", start, start + len);
  }
  /** A canonical message (core/message canonicalBytes); tags rebuilt as own properties. */
  message(): Message {
    const count = this.u32();
    const entries: [string, string][] = [];
    for (let i = 0; i < count; i++) entries.push([this.str(), this.str()]);
    const len = this.u64();
    if (len > BigInt(this.view.length - this.at)) throw new RangeError("truncated message data");
    const start = this.take(Number(len));
    const data = new Uint8Array(Number(len));
    data.set(this.view.subarray(start, start + Number(len)));
    // Object.fromEntries defines own properties, so a tag named "__proto__" stays a tag.
    return { tags: Object.fromEntries(entries), data };
  }
  end(): void {
    if (this.at !== this.view.length) throw new RangeError(`${this.view.length - this.at} trailing bytes`);
  }

  private take(n: number): number {
    if (this.at + n > this.view.length) throw new RangeError("truncated value");
    const start = this.at;
    this.at += n;
    return start;
  }
}
