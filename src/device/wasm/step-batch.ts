/**
 * A batch of steps as it crosses to a wasm thread: one ArrayBuffer, transferred, never a
 * structured clone of Step objects. The main thread only copies each step's strings (as
 * UTF-8) and data into it; the thread reads the fields in place and writes the input JSON
 * from them (abi.ts). Layout, little-endian:
 *
 *   u32 step count, then per step:
 *   u64 slot · str message id · u32 tag count · per tag: str name, str value · bytes data
 *
 * where `str` and `bytes` are a u32 length and that many bytes (strings in UTF-8).
 */
import type { Step } from "../device.js";
import { ByteReader, ByteWriter } from "./byte-buffer.js";

/** Packs `steps` (main thread). The result is meant to be transferred. */
export function packSteps(steps: readonly Step[]): ArrayBuffer {
  let estimate = 4;
  for (const step of steps) estimate += 160 + step.message.data.byteLength;
  const out = new ByteWriter(estimate);
  out.u32(steps.length);
  for (const step of steps) {
    out.u64(step.slot);
    out.string(step.messageId);
    const tags = step.message.tags;
    const names = Object.keys(tags);
    out.u32(names.length);
    for (const name of names) {
      out.string(name);
      out.string(tags[name]!);
    }
    out.byteString(step.message.data);
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
    spanInto(r, step.id, 0);
    const count = r.u32();
    step.tagCount = count;
    for (let i = 0; i < 4 * count; i += 2) spanInto(r, step.tags, i);
    spanInto(r, step.data, 0);
    return step;
  }
}

/** Skips a length-prefixed field, writing where its bytes start and end to `into[at]` and
 * `into[at + 1]` (no array per field: this runs several times per slot). */
function spanInto(r: ByteReader, into: number[], at: number): void {
  const length = r.u32();
  into[at] = r.pos;
  into[at + 1] = r.pos + length;
  r.pos += length;
}
