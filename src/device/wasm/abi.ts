/**
 * The JSON a wasm@1.0 module reads and writes (docs/wasm-abi.md). The input is produced one
 * exact way (keys in a fixed order, tags in ascending UTF-8 order of their names, strings
 * escaped as JSON.stringify escapes them), so equal steps give equal bytes and every run is
 * deterministic. It is written straight from a packed step's UTF-8 bytes (step-batch.ts) in
 * the wasm thread. The output is checked strictly: anything but the documented shape fails
 * the slot.
 */
import type { Step, StepOutcome } from "../device.js";
import type { OutcomeWriter } from "./outcome-batch.js";
import { StepBatch, packSteps, type PackedStep } from "./step-batch.js";

declare global {
  interface String {
    /** ES2024, in Node since 20: false when the string holds a lone surrogate. */
    isWellFormed(): boolean;
  }
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The input's bytes before the slot number, for one process: `{"process":"<id>","slot":"`. */
export function inputPrefix(processId: string): Uint8Array {
  return utf8.encode(`{"process":${JSON.stringify(processId)},"slot":"`);
}

const ID = utf8.encode(`","id":`);
const TAGS = utf8.encode(`,"tags":{`);
const DATA = utf8.encode(`},"data":"`);
const END = utf8.encode(`"}`);
const HEX = utf8.encode("0123456789abcdef");
/** The input's fixed bytes besides the prefix, and the most a slot's digits take (2^64−1). */
const FIXED_BYTES = ID.length + TAGS.length + DATA.length + END.length + 20;

/**
 * The most bytes writeInput can write for `step` (ranges into its batch): every string byte
 * escaped to six (`\u00XX`), two quotes, `:` and `,` per string, base64 of the data.
 */
export function inputBound(prefix: Uint8Array, step: PackedStep): number {
  const tags = step.tags;
  let strings = step.id[1] - step.id[0] + 2;
  for (let i = 0; i < step.tagCount * 4; i += 2) strings += tags[i + 1]! - tags[i]! + 2;
  const data = step.data[1] - step.data[0];
  return prefix.length + FIXED_BYTES + 6 * strings + 2 * step.tagCount + 4 * Math.ceil(data / 3);
}

/**
 * Writes the input JSON of `step` (whose ranges point into `src`) to `dst` from `at`, which
 * must have inputBound(prefix, step) bytes of room: `{"process","slot","id","tags","data"}`
 * in that order. Returns where the input ends. One pass, no bounds growing: this runs for
 * every slot.
 */
export function writeInput(prefix: Uint8Array, step: PackedStep, src: Uint8Array, dst: Uint8Array, at: number): number {
  at = copyInto(prefix, 0, prefix.length, dst, at);
  if (typeof step.slot === "number") at = writeDecimal(step.slot, dst, at);
  else for (let i = 0; i < step.slot.length; i++) dst[at++] = step.slot.charCodeAt(i);
  at = copyInto(ID, 0, ID.length, dst, at);
  at = writeJsonString(src, step.id[0], step.id[1], dst, at);
  at = copyInto(TAGS, 0, TAGS.length, dst, at);
  const tags = step.tags;
  const count = step.tagCount;
  for (let k = 0; k < count; k++) {
    const i = 4 * k; // in canonical order: ascending UTF-8 bytes of the names
    if (k > 0) dst[at++] = 0x2c; // ,
    at = writeJsonString(src, tags[i]!, tags[i + 1]!, dst, at);
    dst[at++] = 0x3a; // :
    at = writeJsonString(src, tags[i + 2]!, tags[i + 3]!, dst, at);
  }
  at = copyInto(DATA, 0, DATA.length, dst, at);
  const [dataStart, dataEnd] = step.data;
  if (dataEnd > dataStart) {
    const base64 = Buffer.from(src.buffer, src.byteOffset + dataStart, dataEnd - dataStart).toString("base64");
    at += Buffer.from(dst.buffer, dst.byteOffset, dst.byteLength).write(base64, at, "latin1");
  }
  return copyInto(END, 0, END.length, dst, at);
}

/** The input JSON for one step (the reference for tests and benchmarks; the thread writes
 * the same bytes from a batch). */
export function encodeInput(processId: string, step: Step): Uint8Array {
  const batch = new StepBatch(packSteps([step]));
  const prefix = inputPrefix(processId);
  const packed = batch.next();
  const out = new Uint8Array(inputBound(prefix, packed));
  return out.slice(0, writeInput(prefix, packed, batch.bytes, out, 0));
}

/** Copies [start, end) of `src` to `dst` at `at`; returns the end. A loop for the few bytes
 * of an input's parts: cheaper than a call into TypedArray#set. */
function copyInto(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): number {
  for (let i = start; i < end; i++) dst[at++] = src[i]!;
  return at;
}

/** A non-negative integer below 2^53 in decimal, without making a string; returns the end. */
function writeDecimal(value: number, dst: Uint8Array, at: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  const end = at + digits;
  let pos = end;
  let rest = value;
  do {
    const next = Math.floor(rest / 10);
    dst[--pos] = 0x30 + (rest - next * 10);
    rest = next;
  } while (rest > 0);
  return end;
}

function compareBytes(src: Uint8Array, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < n; i++) {
    const d = src[aStart + i]! - src[bStart + i]!;
    if (d !== 0) return d;
  }
  return aEnd - aStart - (bEnd - bStart);
}

/** UTF-8 bytes [start, end) as a JSON string at `at` of `dst`, escaped exactly as
 * JSON.stringify escapes the string they encode (`"`, `\` and control characters; the bytes
 * hold no lone surrogates). Returns the end. */
function writeJsonString(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): number {
  dst[at++] = 0x22;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    if (byte >= 0x20 && byte !== 0x22 && byte !== 0x5c) {
      dst[at++] = byte;
      continue;
    }
    dst[at++] = 0x5c;
    switch (byte) {
      case 0x22:
      case 0x5c:
        dst[at++] = byte;
        break;
      case 0x08:
        dst[at++] = 0x62; // b
        break;
      case 0x09:
        dst[at++] = 0x74; // t
        break;
      case 0x0a:
        dst[at++] = 0x6e; // n
        break;
      case 0x0c:
        dst[at++] = 0x66; // f
        break;
      case 0x0d:
        dst[at++] = 0x72; // r
        break;
      default:
        dst[at++] = 0x75; // u00XX
        dst[at++] = 0x30;
        dst[at++] = 0x30;
        dst[at++] = HEX[byte >> 4]!;
        dst[at++] = HEX[byte & 15]!;
    }
  }
  dst[at++] = 0x22;
  return at;
}

/** A module's output once checked: its tags and base64 data, or the slot's error. */
export type CheckedOutput = { tags: [string, string][]; data: string } | { error: string };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const EMPTY: CheckedOutput = { tags: [], data: "" };

/**
 * Checks the bytes a module returned: zero bytes is an empty output, `{"error": "..."}`
 * fails the slot with that text, `{"tags", "data"}` (both optional) is the output. Anything
 * else fails the slot with a message saying what was wrong.
 */
export function checkOutput(bytes: Uint8Array): CheckedOutput {
  if (bytes.byteLength === 0) return EMPTY;
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return invalid("it is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return invalid(`it is not JSON (${(err as Error).message})`);
  }
  if (!isObject(value)) return invalid("it is not a JSON object");
  if (Object.hasOwn(value, "error")) {
    const error = value["error"];
    if (typeof error !== "string") return invalid(`"error" is not a string`);
    return { error: error === "" ? "the process reported an error with no text" : error };
  }
  for (const key of Object.keys(value)) {
    if (key !== "tags" && key !== "data") return invalid(`unknown field ${JSON.stringify(key)}`);
  }
  const tags = value["tags"] ?? {};
  if (!isObject(tags)) return invalid(`"tags" is not an object`);
  const entries: [string, string][] = [];
  for (const name in tags) {
    const tagValue = tags[name];
    if (typeof tagValue !== "string") return invalid(`tag ${JSON.stringify(name)} is not a string`);
    if (!name.isWellFormed() || !tagValue.isWellFormed()) {
      return invalid(`tag ${JSON.stringify(name)} is not well-formed Unicode`);
    }
    entries.push([name, tagValue]);
  }
  const data = value["data"] ?? "";
  if (typeof data !== "string" || (data !== "" && !BASE64.test(data))) return invalid(`"data" is not a base64 string`);
  return { tags: entries, data };
}

/**
 * Checks an output (as checkOutput does) and writes its outcome to `out`; returns whether
 * the slot succeeded. The usual output, compact JSON with ASCII strings and no escapes, is
 * checked on its bytes and copied without building strings; anything else takes checkOutput.
 */
export function writeOutcome(bytes: Uint8Array, out: OutcomeWriter): boolean {
  const plain = scanPlainOutput(bytes);
  if (plain !== undefined) {
    out.outputFromBytes(bytes, TAG_RANGES, plain);
    return true;
  }
  const checked = checkOutput(bytes);
  if ("error" in checked) {
    out.error(checked.error);
    return false;
  }
  out.output(checked);
  return true;
}

/** Name and value ranges of the tags scanPlainOutput found (reused). */
const TAG_RANGES: number[] = [];
const TAGS_KEY = utf8.encode(`"tags":`);
const DATA_KEY = utf8.encode(`"data":`);
/** Most tags the plain path compares for duplicates; more take checkOutput. */
const PLAIN_MAX_TAGS = 16;

/**
 * The plain output `{"tags":{"N":"V",...},"data":"<base64>"}` (either key optional, in either
 * order, no whitespace, strings of printable ASCII without escapes, no repeated key or tag
 * name): fills TAG_RANGES and returns the data's range ([0, 0] when absent). Anything else,
 * valid or not, returns undefined, and checkOutput decides.
 */
function scanPlainOutput(b: Uint8Array): [number, number] | undefined {
  const n = b.byteLength;
  TAG_RANGES.length = 0;
  if (n === 0) return [0, 0];
  if (n < 2 || b[0] !== 0x7b || b[n - 1] !== 0x7d) return undefined; // { ... }
  let data: [number, number] = [0, 0];
  let i = 1;
  let seenTags = false;
  let seenData = false;
  if (n === 2) return data; // {}
  for (;;) {
    if (!seenTags && startsWith(b, i, TAGS_KEY)) {
      seenTags = true;
      i += TAGS_KEY.length;
      if (b[i++] !== 0x7b) return undefined; // {
      if (b[i] === 0x7d)
        i++; // }
      else {
        for (;;) {
          const nameEnd = plainString(b, i);
          if (nameEnd < 0 || b[nameEnd] !== 0x3a) return undefined; // :
          const valueEnd = plainString(b, nameEnd + 1);
          if (valueEnd < 0) return undefined;
          TAG_RANGES.push(i + 1, nameEnd - 1, nameEnd + 2, valueEnd - 1);
          i = valueEnd + 1;
          if (b[valueEnd] === 0x7d) break; // }
          if (b[valueEnd] !== 0x2c) return undefined; // ,
        }
        if (TAG_RANGES.length / 4 > PLAIN_MAX_TAGS || hasRepeatedName(b)) return undefined;
      }
    } else if (!seenData && startsWith(b, i, DATA_KEY)) {
      seenData = true;
      const end = plainString(b, i + DATA_KEY.length);
      if (end < 0) return undefined;
      data = [i + DATA_KEY.length + 1, end - 1];
      if (!isBase64(b, data[0], data[1])) return undefined;
      i = end;
    } else return undefined;
    if (i === n - 1) return data; // the closing }
    if (b[i++] !== 0x2c) return undefined; // ,
  }
}

function startsWith(b: Uint8Array, at: number, prefix: Uint8Array): boolean {
  if (at + prefix.length > b.byteLength) return false;
  for (let k = 0; k < prefix.length; k++) if (b[at + k] !== prefix[k]) return false;
  return true;
}

/** The index after a string of printable ASCII without escapes starting at `at`, or -1. */
function plainString(b: Uint8Array, at: number): number {
  if (b[at] !== 0x22) return -1;
  for (let i = at + 1; i < b.byteLength; i++) {
    const c = b[i]!;
    if (c === 0x22) return i + 1;
    if (c < 0x20 || c === 0x5c || c >= 0x7f) return -1;
  }
  return -1;
}

function hasRepeatedName(b: Uint8Array): boolean {
  const r = TAG_RANGES;
  for (let x = 0; x < r.length; x += 4) {
    for (let y = x + 4; y < r.length; y += 4) {
      if (r[x + 1]! - r[x]! === r[y + 1]! - r[y]! && compareBytes(b, r[x]!, r[x + 1]!, r[y]!, r[y + 1]!) === 0) {
        return true;
      }
    }
  }
  return false;
}

const BASE64_DIGIT = new Uint8Array(128);
for (const c of utf8.encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")) BASE64_DIGIT[c] = 1;

/** The BASE64 pattern on bytes: groups of four digits, the last one possibly padded. */
function isBase64(b: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length % 4 !== 0) return false;
  for (let i = start; i < end - 2; i++) if (BASE64_DIGIT[b[i]!] !== 1) return false;
  if (length === 0) return true;
  const last = b[end - 1]!;
  const beforeLast = b[end - 2]!;
  if (last === 0x3d) return beforeLast === 0x3d || BASE64_DIGIT[beforeLast] === 1; // = or ==
  return BASE64_DIGIT[last] === 1 && BASE64_DIGIT[beforeLast] === 1;
}

/** checkOutput as a step outcome (for tests and the documentation's examples). */
export function decodeOutput(bytes: Uint8Array): StepOutcome {
  const checked = checkOutput(bytes);
  if ("error" in checked) return checked;
  // Object.fromEntries defines own properties, so a tag named "__proto__" stays a tag.
  const data = new Uint8Array(Buffer.from(checked.data, "base64"));
  return { output: { tags: Object.fromEntries(checked.tags), data } };
}

function invalid(why: string): { error: string } {
  return { error: `invalid output from the module: ${why}` };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
