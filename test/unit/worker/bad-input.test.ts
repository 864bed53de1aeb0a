/**
 * Bad input never reaches the store or surprises the engine: every malformed request gets
 * a client error code (never `internal`), and nothing is stored for it.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ProcworkerError } from "../../../src/core/errors.js";
import { message } from "../../../src/core/message.js";
import { collect, testEngine } from "../../support/engine.js";

const t = testEngine();
afterAll(() => t.engine.close());

const codeOf = async (work: () => Promise<unknown>): Promise<string> => {
  try {
    await work();
    return "ok";
  } catch (error) {
    if (error instanceof ProcworkerError) return error.code;
    throw error;
  }
};

describe("bad input (property)", () => {
  it("answers any process id with invalid_argument or not_found, never internal", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{43}$/)), async (id) => {
        for (const call of [
          () => t.engine.schedule(id, [message({ Amount: "1" })]),
          () => t.engine.compute(id, undefined).then(collect),
          () => t.engine.await(id, 0n, AbortSignal.abort()),
          () => t.engine.subscribe(id, 0n),
          () => t.engine.stop(id),
          () => t.engine.group(id, "compute"),
        ]) {
          expect(["invalid_argument", "not_found"]).toContain(await codeOf(call));
        }
      }),
      { numRuns: 100 },
    );
  });

  it("spawns any counter definition or refuses it with invalid_argument, storing nothing then", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string(), fc.string(), { maxKeys: 4 }),
        fc.option(fc.oneof(fc.string(), fc.bigInt().map(String)), { nil: undefined }),
        fc.uint8Array({ maxLength: 16 }),
        async (tags, initial, data) => {
          const spawn = message(
            { ...tags, "Execution-Device": "counter@1.0", ...(initial !== undefined ? { Initial: initial } : {}) },
            data,
          );
          let id: string | undefined;
          const code = await codeOf(async () => (id = await t.engine.spawn(spawn)));
          if (initial === undefined || /^-?[0-9]+$/.test(initial)) {
            expect(code).toBe("ok");
            expect(await t.store.getProcess(id!)).toEqual(spawn);
          } else {
            expect(code).toBe("invalid_argument");
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("refuses module bytes for a device that takes none, and a missing device", async () => {
    expect(
      await codeOf(() =>
        t.engine.spawn(message({ "Execution-Device": "counter@1.0" }), Uint8Array.of(0, 97, 115, 109)),
      ),
    ).toBe("invalid_argument");
    expect(await codeOf(() => t.engine.spawn(message({ "execution-device": "counter@1.0" })))).toBe("invalid_argument");
  });
});
