/**
 * A batch of step outcomes as it crosses back from a wasm thread: one ArrayBuffer,
 * transferred. The thread has already checked every output strictly (abi.ts), so the main
 * thread only turns strings and bytes back into Messages. Layout, little-endian:
 *
 *   u32 outcome count · u32 memory pages · u32 bytes of the rollback log, then per outcome:
 *   u8 0 (output) · u32 tag count · per tag: str name, str value · bytes data
 *   u8 1 (error)  · str message
 *
 * where `str` and `bytes` are a u32 length and that many bytes (strings in UTF-8).
 */
import type { StepOutcome } from "../device.js";
import { ByteReader, ByteWriter } from "./byte-buffer.js";
import type { CheckedOutput } from "./abi.js";

const OUTPUT = 0;
const ERROR = 1;
const HEADER_BYTES = 12;

/** Writes outcomes (wasm thread); `finish` returns the buffer to transfer. */
export class OutcomeWriter {
  private readonly out: ByteWriter;
  private count = 0;

  constructor(capacity = 4096) {
    this.out = new ByteWriter(capacity);
    this.out.length = HEADER_BYTES;
  }

  /** A successful step's output. */
  output(checked: Exclude<CheckedOutput, { error: string }>): void {
    const out = this.out;
    out.u8(OUTPUT);
    out.u32(checked.tags.length);
    for (const [name, value] of checked.tags) {
      out.string(name);
      out.string(value);
    }
    const base64 = checked.data;
    out.reserve(4 + Math.ceil(base64.length / 4) * 3);
    const written = base64.length === 0 ? 0 : out.bytes.write(base64, out.length + 4, "base64");
    out.view.setUint32(out.length, written, true);
    out.length += 4 + written;
    this.count++;
  }

  /** A successful step's output given as ranges of `src` (writeOutcome's plain path): tags
   * as [nameStart, nameEnd, valueStart, valueEnd] of UTF-8, data as a range of base64. Room
   * is made once (the ranges lie inside `src`, and decoded data is shorter than its base64). */
  outputFromBytes(src: Uint8Array, tags: readonly number[], data: readonly [number, number]): void {
    const out = this.out;
    out.reserve(9 + 8 * (tags.length / 4) + src.byteLength);
    const bytes = out.bytes;
    const view = out.view;
    let at = out.length;
    bytes[at++] = OUTPUT;
    view.setUint32(at, tags.length / 4, true);
    at += 4;
    for (let i = 0; i < tags.length; i += 2) {
      const start = tags[i]!;
      const end = tags[i + 1]!;
      view.setUint32(at, end - start, true);
      at += 4;
      for (let k = start; k < end; k++) bytes[at++] = src[k]!;
    }
    const [start, end] = data;
    let written = 0;
    if (end > start) {
      const base64 = Buffer.from(src.buffer, src.byteOffset + start, end - start).toString("latin1");
      written = bytes.write(base64, at + 4, "base64");
    }
    view.setUint32(at, written, true);
    out.length = at + 4 + written;
    this.count++;
  }

  /** A failed step's error. */
  error(message: string): void {
    this.out.u8(ERROR);
    this.out.string(message);
    this.count++;
  }

  /** The header filled in; the buffer is the writer's no more. */
  finish(memoryPages: number, logBytes: number): ArrayBuffer {
    const view = this.out.view;
    view.setUint32(0, this.count, true);
    view.setUint32(4, memoryPages, true);
    view.setUint32(8, logBytes, true);
    return this.out.bytes.buffer as ArrayBuffer;
  }
}

/** What a thread answered to a batch (main thread). */
export interface UnpackedOutcomes {
  outcomes: StepOutcome[];
  memoryBytes: number;
  logBytes: number;
}

const EMPTY_DATA = new Uint8Array(0);

/** Reads an OutcomeWriter's buffer back into step outcomes. */
export function unpackOutcomes(buffer: ArrayBuffer): UnpackedOutcomes {
  const r = new ByteReader(buffer);
  const count = r.u32();
  const memoryBytes = r.u32() * 65536;
  const logBytes = r.u32();
  const outcomes: StepOutcome[] = new Array<StepOutcome>(count);
  for (let i = 0; i < count; i++) {
    if (r.u8() === ERROR) {
      outcomes[i] = { error: r.string() };
      continue;
    }
    const tagCount = r.u32();
    const tags: Record<string, string> = {};
    for (let t = 0; t < tagCount; t++) {
      const name = r.string();
      const value = r.string();
      if (name === "__proto__") {
        Object.defineProperty(tags, name, { value, enumerable: true, writable: true, configurable: true });
      } else tags[name] = value;
    }
    const dataLength = r.u32();
    outcomes[i] = { output: { tags, data: dataLength === 0 ? EMPTY_DATA : r.bytesOf(dataLength) } };
  }
  return { outcomes, memoryBytes, logBytes };
}
