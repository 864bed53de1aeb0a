/**
 * A batch of steps as it crosses to a wasm thread: one ArrayBuffer, transferred, never a
 * structured clone of Step objects. Each message goes in its canonical encoding (core/message
 * writeCanonical: tags already in ascending UTF-8 order of their names, which is the order
 * the input JSON wants), so a step read from the store crosses as the bytes the store holds,
 * never decoded on the main thread; the thread reads the fields in place and writes the
 * input JSON from them (abi.ts). Layout, little-endian apart from the canonical message:
 *
 *   u32 step count, then per step:
 *   u64 slot · str message id · bytes canonical message
 *
 * where `str` and `bytes` are a u32 length and that many bytes (strings in UTF-8).
 */
import { canonicalBytes } from "../../core/message.js";
import type { EncodedStep, Step } from "../device.js";
import { ByteReader, ByteWriter } from "./byte-buffer.js";

/** Packs decoded steps (main thread: dry runs), encoding each message canonically
 * (core/message canonicalBytes). The result is meant to be transferred. */
export function packSteps(steps: readonly Step[]): ArrayBuffer {
  return packEncodedSteps(
    steps.map(({ slot, messageId, message }) => ({ slot, messageId, canonical: canonicalBytes(message) })),
  );
}

/** Packs steps whose messages are already canonical bytes (read from the store): a copy of
 * each, nothing decoded or encoded. The result is meant to be transferred. */
export function packEncodedSteps(steps: readonly EncodedStep[]): ArrayBuffer {
  let estimate = 4;
  for (const step of steps) estimate += 64 + step.canonical.byteLength;
  const out = new ByteWriter(estimate);
  out.u32(steps.length);
  for (const step of steps) {
    out.u64(step.slot);
    out.string(step.messageId);
    out.byteString(step.canonical);
  }
  return out.bytes.buffer as ArrayBuffer;
}

/** One step of a batch, as offsets into the batch's bytes (valid until the next `next()`). */
export interface PackedStep {
  /** The slot number: a number below 2^53, else its decimal digits. */
  slot: number | string;
  /** Slot 0: initialisation. */
  init: boolean;
  id: [number, number];
  /** How many tags the step has. */
  tagCount: number;
  /** Name and value ranges: [nameStart, nameEnd, valueStart, valueEnd] per tag, in its first
   * 4 × tagCount items (the array is reused and never shrunk). */
  tags: number[];
  data: [number, number];
}

/** Reads a packed batch front to back (wasm thread). */
export class StepBatch {
  readonly count: number;
  private readonly reader: ByteReader;
  private readonly step: PackedStep = {
    slot: 0,
    init: false,
    id: [0, 0],
    tagCount: 0,
    tags: [],
    data: [0, 0],
  };

  constructor(buffer: ArrayBuffer) {
    this.reader = new ByteReader(buffer);
    this.count = this.reader.u32();
  }

  /** The batch's bytes, which the ranges of a PackedStep point into. */
  get bytes(): Uint8Array {
    return this.reader.bytes;
  }

  /** The next step. The returned object, and its arrays, are reused by the following call. */
  next(): PackedStep {
    const r = this.reader;
    const step = this.step;
    const low = r.view.getUint32(r.pos, true);
    const high = r.view.getUint32(r.pos + 4, true);
    step.init = low === 0 && high === 0;
    step.slot = high < 0x200000 ? high * 0x100000000 + low : r.view.getBigUint64(r.pos, true).toString();
    r.pos += 8;
    spanInto(r, step.id, 0, true);
    const messageLength = r.u32();
    const end = r.pos + messageLength; // the canonical message: big-endian lengths from here
    const count = r.view.getUint32(r.pos, false);
    r.pos += 4;
    step.tagCount = count;
    for (let i = 0; i < 4 * count; i += 2) spanInto(r, step.tags, i, false);
    const dataHigh = r.view.getUint32(r.pos, false);
    r.pos += 4;
    if (dataHigh !== 0) throw new RangeError("a message's data of 2^32 bytes or more");
    spanInto(r, step.data, 0, false);
    if (r.pos !== end) throw new RangeError(`a malformed canonical message in the batch (slot ${step.slot})`);
    return step;
  }
}

/** Skips a length-prefixed field, writing where its bytes start and end to `into[at]` and
 * `into[at + 1]` (no array per field: this runs several times per slot). A length past the
 * batch's end throws. */
function spanInto(r: ByteReader, into: number[], at: number, littleEndian: boolean): void {
  const length = r.view.getUint32(r.pos, littleEndian);
  const start = r.pos + 4;
  if (start + length > r.bytes.byteLength) throw new RangeError("a field runs past the end of the batch");
  into[at] = start;
  into[at + 1] = start + length;
  r.pos = start + length;
}
