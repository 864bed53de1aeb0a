/**
 * The JSON a wasm@1.0 module reads and writes (docs/design.md §5, docs/wasm-abi.md). The input is
 * produced one exact way (keys in a fixed order, tags in ascending UTF-8 order of their
 * names), so equal steps give equal bytes and every run is deterministic. The output is
 * checked strictly: anything but the documented shape fails the slot.
 */
import type { Step, StepOutcome } from "../device.js";
import { sortedTagNames } from "../../core/message.js";

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The input JSON for one step: `{"process","slot","id","tags","data"}` in that order. */
export function encodeInput(processId: string, step: Step): Uint8Array {
  const tags = sortedTagNames(step.message.tags)
    .map((name) => `${JSON.stringify(name)}:${JSON.stringify(step.message.tags[name] ?? "")}`)
    .join(",");
  const data = Buffer.from(step.message.data.buffer, step.message.data.byteOffset, step.message.data.byteLength);
  const json =
    `{"process":${JSON.stringify(processId)},"slot":"${step.slot.toString()}",` +
    `"id":${JSON.stringify(step.messageId)},"tags":{${tags}},"data":"${data.toString("base64")}"}`;
  return utf8.encode(json);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Turns the bytes a module returned into a step outcome: zero bytes is an empty output,
 * `{"error": "..."}` fails the slot with that text, `{"tags", "data"}` (both optional) is the
 * output. Anything else fails the slot with a message saying what was wrong.
 */
export function decodeOutput(bytes: Uint8Array): StepOutcome {
  if (bytes.byteLength === 0) return { output: { tags: {}, data: new Uint8Array() } };
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
  for (const [name, tagValue] of Object.entries(tags)) {
    if (typeof tagValue !== "string") return invalid(`tag ${JSON.stringify(name)} is not a string`);
    if (LONE_SURROGATE.test(name) || LONE_SURROGATE.test(tagValue)) {
      return invalid(`tag ${JSON.stringify(name)} is not well-formed Unicode`);
    }
    entries.push([name, tagValue]);
  }
  const data = value["data"] ?? "";
  if (typeof data !== "string" || !BASE64.test(data)) return invalid(`"data" is not a base64 string`);
  // Object.fromEntries defines own properties, so a tag named "__proto__" stays a tag.
  return { output: { tags: Object.fromEntries(entries), data: new Uint8Array(Buffer.from(data, "base64")) } };
}

function invalid(why: string): StepOutcome {
  return { error: `invalid output from the module: ${why}` };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
