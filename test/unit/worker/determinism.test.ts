import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { message } from "../../../src/core/message.js";
import { testEngine } from "../../support/engine.js";
import { assertDeterministic } from "../../support/determinism.js";

const amount = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => n.toString()) },
  { weight: 1, arbitrary: fc.constantFrom("x", "1.5", "", "--1") },
);

describe("determinism (docs/design.md §2.8)", () => {
  it("gives byte-identical results and state warm, restored from any snapshot, and cold", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(amount, { maxLength: 40 }),
        fc.integer({ min: 1, max: 9 }),
        fc.bigInt({ min: -1000n, max: 1000n }),
        async (amounts, interval, initial) => {
          const t = testEngine({ snapshotInterval: interval, snapshotKeep: 1000 });
          try {
            const p = await t.spawnCounter({ Initial: initial.toString() });
            const compared = await assertDeterministic(
              t.engine,
              t.store,
              p,
              amounts.map((a) => message({ Amount: a })),
            );
            expect(compared).toBeGreaterThanOrEqual(1 + Math.floor(amounts.length / interval));
          } finally {
            await t.engine.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
