/**
 * What crosses between the main thread and a wasm thread: packed outcome batches (one
 * transferred buffer, decoded back into equal outcomes) and the shared rollback log (whose
 * old buffer stays valid when it grows, so the host can rebuild from what it confirmed).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeOutput, writeOutcome } from "../../../src/device/wasm/abi.js";
import { OutcomeWriter, unpackOutcomes } from "../../../src/device/wasm/outcome-batch.js";
import { RollbackLog } from "../../../src/device/wasm/rollback-log.js";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("wasm@1.0 outcome batches", () => {
  it("decode into the outcomes written, with the memory size and log length", () => {
    const out = new OutcomeWriter(16); // grows as needed
    out.output({ tags: [["Total", "5"]], data: "" });
    out.error("trap: unreachable ✗");
    out.output({
      tags: [
        ["__proto__", "x"],
        ["Ключ", "значение"],
      ],
      data: "aGk=",
    });
    const { outcomes, memoryBytes, logBytes } = unpackOutcomes(out.finish(3, 77));
    expect(memoryBytes).toBe(3 * 65536);
    expect(logBytes).toBe(77);
    expect(outcomes).toEqual([
      { output: { tags: { Total: "5" }, data: new Uint8Array() } },
      { error: "trap: unreachable ✗" },
      {
        output: {
          tags: Object.fromEntries([
            ["__proto__", "x"],
            ["Ключ", "значение"],
          ]),
          data: bytes("hi"),
        },
      },
    ]);
    const third = outcomes[2]!;
    expect("output" in third && Object.getOwnPropertyNames(third.output.tags)).toEqual(["__proto__", "Ключ"]);
    expect("output" in third && third.output.tags["__proto__"]).toBe("x");
  });

  it("round-trip any well-formed tags and data (property)", () => {
    const str = fc.string({ unit: "grapheme", maxLength: 80 });
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.tuple(fc.dictionary(str, str), fc.uint8Array({ maxLength: 100 })), str), {
          maxLength: 20,
        }),
        (items) => {
          const out = new OutcomeWriter(8);
          for (const item of items) {
            if (typeof item === "string") out.error(item);
            else out.output({ tags: Object.entries(item[0]), data: Buffer.from(item[1]).toString("base64") });
          }
          const { outcomes } = unpackOutcomes(out.finish(1, 0));
          expect(outcomes).toEqual(
            items.map((item) =>
              typeof item === "string"
                ? { error: item }
                : { output: { tags: Object.fromEntries(Object.entries(item[0])), data: new Uint8Array(item[1]) } },
            ),
          );
        },
      ),
    );
  });
});

describe("wasm@1.0 output checks in the thread", () => {
  /** What the main thread gets for `bytes`, through the thread's writer. */
  const throughThread = (bytes: Uint8Array) => {
    const out = new OutcomeWriter(8);
    const ok = writeOutcome(bytes, out);
    const [outcome] = unpackOutcomes(out.finish(1, 0)).outcomes;
    expect(ok).toBe(outcome !== undefined && "output" in outcome);
    return outcome;
  };

  it.each([
    ["", { output: { tags: {}, data: new Uint8Array() } }],
    ["{}", { output: { tags: {}, data: new Uint8Array() } }],
    ['{"tags":{"Total":"5","A":""}}', { output: { tags: { Total: "5", A: "" }, data: new Uint8Array() } }],
    ['{"data":"aGk=","tags":{}}', { output: { tags: {}, data: bytes("hi") } }],
    ['{"tags":{"A":"1","A":"2"}}', { output: { tags: { A: "2" }, data: new Uint8Array() } }],
    ['{"tags":{"A":"1"},"tags":{}}', { output: { tags: {}, data: new Uint8Array() } }],
    ['{"tags":{"A":"1"}} ', { output: { tags: { A: "1" }, data: new Uint8Array() } }],
    ['{"tags":{"A":"1"},}', { error: expect.stringMatching(/^invalid output from the module: it is not JSON/) }],
    ['{"data":"aGk"}', { error: 'invalid output from the module: "data" is not a base64 string' }],
    ['{"data":"a=k="}', { error: 'invalid output from the module: "data" is not a base64 string' }],
    ['{"tags":{"A":1}}', { error: 'invalid output from the module: tag "A" is not a string' }],
    ['{"error":"no"}', { error: "no" }],
  ])("%s gives what checkOutput gives", (json, expected) => {
    expect(throughThread(bytes(json))).toEqual(expected);
    expect(throughThread(bytes(json))).toEqual(decodeOutput(bytes(json)));
  });

  it("gives what decodeOutput gives, for any bytes (property)", () => {
    const ascii = fc.string({ unit: "binary-ascii", maxLength: 12 });
    const output = fc
      .record({ tags: fc.dictionary(ascii, ascii, { maxKeys: 20 }), data: fc.uint8Array({ maxLength: 20 }) })
      .map(({ tags, data }) => JSON.stringify({ tags, data: Buffer.from(data).toString("base64") }));
    const mangled = output.chain((json) =>
      fc.tuple(fc.nat({ max: json.length }), fc.nat({ max: 3 }), ascii).map(([at, drop, insert]) => {
        return json.slice(0, at) + insert + json.slice(at + drop);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          output,
          mangled,
          fc.json(),
          fc.string().map((s) => s),
        ),
        (json) => {
          expect(throughThread(bytes(json))).toEqual(decodeOutput(bytes(json)));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("wasm@1.0 rollback log", () => {
  it("keeps the entries it was given, and a buffer it outgrew stays as it was", () => {
    const log = RollbackLog.empty();
    log.append(true, bytes("first"));
    const oldBuffer = log.buffer;
    const oldLength = log.byteLength;
    const big = new Uint8Array(5000).fill(7);
    log.append(false, big);
    expect(log.buffer).not.toBe(oldBuffer); // grew into a new buffer
    expect(log.size).toBe(2);
    expect([...log.entries()].map((e) => [e.init, e.input.byteLength])).toEqual([
      [true, 5],
      [false, 5000],
    ]);
    // What the host confirmed before the growth is still readable from the old buffer.
    const confirmed = new RollbackLog(oldBuffer, oldLength);
    expect(confirmed.size).toBe(1);
    expect([...confirmed.entries()].map((e) => Buffer.from(e.input).toString())).toEqual(["first"]);
    // A log continued from a confirmed length drops what was written after it.
    const continued = new RollbackLog(log.buffer, oldLength);
    continued.append(false, bytes("again"));
    expect([...continued.entries()].map((e) => Buffer.from(e.input).toString())).toEqual(["first", "again"]);
  });
});

describe("wasm@1.0 rollback log, written in place", () => {
  it("keeps a reserved input only once committed; the host's confirmed bytes never move", () => {
    const log = RollbackLog.empty();
    log.append(false, bytes("kept"));
    const confirmed = log.byteLength;
    // A step's input is written into the free space; the step fails: nothing is committed.
    let at = log.reserve(5);
    log.bytes.set(bytes("fails"), at);
    expect(log.size).toBe(1);
    expect(log.byteLength).toBe(confirmed);
    // The next step's input goes in the same place; it succeeds and becomes an entry.
    at = log.reserve(4);
    log.bytes.set(bytes("next"), at);
    log.commit(true, 4);
    expect([...log.entries()].map((e) => [e.init, Buffer.from(e.input).toString()])).toEqual([
      [false, "kept"],
      [true, "next"],
    ]);
    expect([...new RollbackLog(log.buffer, confirmed).entries()].map((e) => Buffer.from(e.input).toString())).toEqual([
      "kept",
    ]);
  });

  it("gives back the room a large uncommitted input took, keeping every entry", () => {
    const log = RollbackLog.empty();
    log.append(false, bytes("kept"));
    const at = log.reserve(1 << 20); // a megabyte input, dry-run or failed: never committed
    log.bytes.fill(1, at, at + (1 << 20));
    const grown = log.buffer;
    expect(grown.byteLength).toBeGreaterThan(1 << 20);
    log.trim();
    expect(log.buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
    expect([...log.entries()].map((e) => Buffer.from(e.input).toString())).toEqual(["kept"]);
    expect(new Uint8Array(grown, 0, log.byteLength)).toEqual(new Uint8Array(log.buffer, 0, log.byteLength));
    const small = log.buffer;
    log.trim(); // a log that holds little is left alone
    expect(log.buffer).toBe(small);
  });
});
