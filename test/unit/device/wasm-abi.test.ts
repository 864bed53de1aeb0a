import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalBytes, message, sortedTagNames } from "../../../src/core/message.js";
import type { Step } from "../../../src/device/device.js";
import { decodeOutput, encodeInput, inputBound, inputPrefix, writeInput } from "../../../src/device/wasm/abi.js";
import { StepBatch, packEncodedSteps, packSteps } from "../../../src/device/wasm/step-batch.js";
import type { ModuleLayout } from "../../../src/device/wasm/protocol.js";
import { checkImage, imageBytes, imageLayout, writeImageHeader } from "../../../src/device/wasm/state-format.js";

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("wasm@1.0 input JSON", () => {
  it("has a fixed key order, tags in UTF-8 byte order of their names, a decimal slot and base64 data", () => {
    const msg = message({ zeta: "1", Ä: "2", Alpha: "3", a: 'q"\n' }, new Uint8Array([0, 255, 1]));
    const input = encodeInput("proc-id", { slot: 18446744073709551615n, messageId: "msg-id", message: msg });
    expect(text(input)).toBe(
      '{"process":"proc-id","slot":"18446744073709551615","id":"msg-id",' +
        '"tags":{"Alpha":"3","a":"q\\"\\n","zeta":"1","Ä":"2"},"data":"AP8B"}',
    );
  });

  it("is the same bytes for the same step, and JSON for any tags and data (property)", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.string()),
        fc.uint8Array({ maxLength: 64 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (tags, data, slot) => {
          const step = { slot, messageId: "m", message: message(tags, data) };
          const input = encodeInput("p", step);
          expect(
            Buffer.from(input).equals(
              Buffer.from(encodeInput("p", { ...step, message: message({ ...tags }, data.slice()) })),
            ),
          ).toBe(true);
          const parsed = JSON.parse(text(input));
          expect(parsed.slot).toBe(slot.toString());
          expect(Object.keys(parsed)).toEqual(["process", "slot", "id", "tags", "data"]);
          expect(Buffer.from(parsed.data, "base64").equals(Buffer.from(data))).toBe(true);
        },
      ),
    );
  });
});

/** The input as the ABI defines it, written with JSON.stringify. */
function referenceInput(processId: string, step: Step): string {
  const tags = sortedTagNames(step.message.tags)
    .map((name) => `${JSON.stringify(name)}:${JSON.stringify(step.message.tags[name])}`)
    .join(",");
  const data = Buffer.from(step.message.data).toString("base64");
  return (
    `{"process":${JSON.stringify(processId)},"slot":"${step.slot}","id":${JSON.stringify(step.messageId)},` +
    `"tags":{${tags}},"data":"${data}"}`
  );
}

describe("wasm@1.0 input JSON, written from packed bytes in the thread", () => {
  it("is what JSON.stringify gives, for any well-formed strings and control characters (property)", () => {
    const str = fc.oneof(fc.string({ unit: "grapheme" }), fc.string({ unit: "binary-ascii" }));
    fc.assert(
      fc.property(
        fc.dictionary(str, str),
        str,
        fc.uint8Array({ maxLength: 40 }),
        // Slots below 2^53 are written digit by digit, larger ones from their string.
        fc.oneof(
          fc.constantFrom(0n, 1n, 9n, 10n, 99n, 100n, 1023n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n),
          fc.bigInt({ min: 0n, max: 2n ** 53n + 10n }),
          fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        ),
        (tags, id, data, slot) => {
          const step = { slot, messageId: id, message: message(tags, data) };
          const input = encodeInput("proc", step);
          expect(text(input)).toBe(referenceInput("proc", step));
          // The thread writes an input into room of inputBound bytes, never grown.
          const packed = new StepBatch(packSteps([step])).next();
          expect(inputBound(inputPrefix("proc"), packed)).toBeGreaterThanOrEqual(input.byteLength);
          // A step read from the store crosses as its stored bytes, and gives the same input.
          const canonical = new Uint8Array(canonicalBytes(step.message));
          const stored = new StepBatch(packEncodedSteps([{ slot, messageId: id, canonical }]));
          const out = new Uint8Array(input.byteLength + 64);
          const end = writeInput(inputPrefix("proc"), stored.next(), stored.bytes, out, 0);
          expect(text(out.subarray(0, end))).toBe(text(input));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a batch whose canonical message is malformed, never reading past it", () => {
    const canonical = new Uint8Array(canonicalBytes(message({ A: "1" }, "hi")));
    const cases = [
      canonical.subarray(0, canonical.length - 1), // data cut short
      Uint8Array.of(...canonical, 0), // a trailing byte
      Uint8Array.of(0, 0, 0, 9, ...canonical.subarray(4)), // more tags than there are
      Uint8Array.of(...canonical.subarray(0, canonical.length - 10), 0, 0, 0, 1, 0, 0, 0, 2, 104, 105), // 2^32 + 2 bytes of data
    ];
    for (const bad of cases) {
      const batch = new StepBatch(packEncodedSteps([{ slot: 1n, messageId: "m", canonical: bad }]));
      expect(() => batch.next()).toThrow(RangeError);
    }
  });

  it("writes a lone surrogate as U+FFFD, as message ids encode it", () => {
    const step = { slot: 1n, messageId: "m", message: message({ A: "x\ud800y" }) };
    expect(text(encodeInput("p", step))).toContain('"A":"x\ufffdy"');
  });
});

describe("wasm@1.0 output JSON", () => {
  it("reads tags and base64 data; both are optional and zero bytes is an empty output", () => {
    expect(decodeOutput(utf8('{"tags":{"A":"1"},"data":"aGk="}'))).toEqual({
      output: { tags: { A: "1" }, data: utf8("hi") },
    });
    expect(decodeOutput(utf8("{}"))).toEqual({ output: { tags: {}, data: new Uint8Array() } });
    expect(decodeOutput(new Uint8Array())).toEqual({ output: { tags: {}, data: new Uint8Array() } });
  });

  it("keeps a tag named __proto__ as a tag", () => {
    const outcome = decodeOutput(utf8('{"tags":{"__proto__":"x"}}'));
    expect("output" in outcome && Object.getOwnPropertyNames(outcome.output.tags)).toEqual(["__proto__"]);
  });

  it('turns {"error"} into a failed slot with that text', () => {
    expect(decodeOutput(utf8('{"error":"no such key"}'))).toEqual({ error: "no such key" });
    expect(decodeOutput(utf8('{"error":""}'))).toEqual({ error: "the process reported an error with no text" });
  });

  it.each([
    ["bad JSON", "{", /it is not JSON/],
    ["not an object", "[1]", /it is not a JSON object/],
    ["a non-string tag value", '{"tags":{"A":1}}', /tag "A" is not a string/],
    ["tags that are not an object", '{"tags":"A"}', /"tags" is not an object/],
    ["bad base64", '{"data":"a*=="}', /"data" is not a base64 string/],
    ["unpadded base64", '{"data":"aGk"}', /"data" is not a base64 string/],
    ["an unknown field", '{"tags":{},"extra":1}', /unknown field "extra"/],
    ["a non-string error", '{"error":42}', /"error" is not a string/],
    ["a lone surrogate", '{"tags":{"A":"\\ud800"}}', /not well-formed Unicode/],
  ])("fails the slot on %s", (_name, json, why) => {
    const outcome = decodeOutput(utf8(json));
    expect("error" in outcome && outcome.error).toMatch(why);
    expect("error" in outcome && outcome.error).toMatch(/^invalid output from the module: /);
  });

  it("fails the slot on bytes that are not UTF-8", () => {
    expect(decodeOutput(new Uint8Array([0x7b, 0xff, 0x7d]))).toEqual({
      error: "invalid output from the module: it is not valid UTF-8",
    });
  });

  it("never throws, whatever the bytes (property)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.json().map(utf8)), (bytes) => {
        const outcome = decodeOutput(bytes);
        expect("output" in outcome || typeof outcome.error === "string").toBe(true);
      }),
    );
  });
});

describe("wasm@1.0 state image", () => {
  const layout: ModuleLayout = {
    moduleHash: new Uint8Array(32).fill(7),
    globals: [
      { type: "i32", export: "__pw_g0" },
      { type: "f64", export: "__pw_g1" },
    ],
    hasInit: false,
    initialPages: 1,
    maxPages: 4,
  };
  const image = (pages: number) => {
    const bytes = new Uint8Array(imageBytes(layout, pages));
    writeImageHeader(bytes, layout, pages);
    return bytes;
  };

  it("puts 8-byte global slots and memory at 8-aligned offsets after the header", () => {
    expect(imageLayout(2)).toEqual({ globalsAt: 56, memoryAt: 72 });
    expect(imageBytes(layout, 2)).toBe(72 + 2 * 65536);
    expect(checkImage(image(2), layout)).toBe(2);
  });

  it.each([
    ["a truncated image", (b: Uint8Array) => b.subarray(0, b.byteLength - 1), /bytes; a state of 1 pages is/],
    [
      "another magic",
      (b: Uint8Array) => {
        b[0] = 0;
        return b;
      },
      /magic/,
    ],
    [
      "another module",
      (b: Uint8Array) => {
        b[8] = 0;
        return b;
      },
      /different module/,
    ],
    [
      "another global type",
      (b: Uint8Array) => {
        b[49] = 0x7f;
        return b;
      },
      /global 1 is not f64/,
    ],
    [
      "too many pages",
      (b: Uint8Array) => {
        new DataView(b.buffer).setUint32(40, 5, true);
        return b;
      },
      /limit for this module is 4/,
    ],
  ])("refuses %s", (_name, corrupt, why) => {
    expect(() => checkImage(corrupt(image(1)), layout)).toThrow(why);
  });
});
