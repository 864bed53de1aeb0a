/**
 * The engine with the real wasm@1.0 device: determinism across snapshot/restore and cold
 * replay (property), and recovery when a worker thread dies under a process.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { message } from "../../../src/core/message.js";
import type { Device } from "../../../src/device/device.js";
import { createWasmDevice, type WasmDevice } from "../../../src/device/wasm/index.js";
import { collect, testEngine } from "../../support/engine.js";
import { assertDeterministic } from "../../support/determinism.js";
import { compileKvWat, PROBE_WAT, wat } from "../device/wasm-fixtures.js";

let kv: Uint8Array;
let probeModule: Uint8Array;
let wasm: WasmDevice;
beforeAll(async () => {
  kv = await compileKvWat();
  probeModule = await wat(PROBE_WAT);
  wasm = createWasmDevice({ slotTimeLimitMs: 2_000, maxMemoryMib: 16, threads: 2 });
}, 60_000);
afterAll(() => wasm.close());

/** Resolves when the next device call starts (see wasmEngine). */
let onRun: (() => void) | undefined;
const nextRun = (): Promise<void> => new Promise((resolve) => (onRun = resolve));

/** The engine test harness with the shared wasm device (its close() must not stop the pool);
 * each instance's run() reports that it started. */
function wasmEngine(config: Parameters<typeof testEngine>[0] = {}) {
  const shared: Device = {
    ...wasm,
    close: async () => undefined,
    async instantiate(ctx) {
      const instance = await wasm.instantiate(ctx);
      return {
        ...instance,
        run: (steps) => {
          const started = instance.run(steps);
          onRun?.();
          onRun = undefined;
          return started;
        },
        dryRun: (step) => instance.dryRun(step),
        exportState: () => instance.exportState(),
        importState: (state) => instance.importState(state),
        stateBytes: () => instance.stateBytes(),
        close: () => instance.close(),
      };
    },
  };
  return testEngine(config, { devices: [shared] });
}

const kvOp = fc.oneof(
  fc.record({
    Action: fc.constant("Set"),
    Key: fc.constantFrom("a", "b", "ключ", '"q"'),
    Value: fc.string({ maxLength: 12 }),
  }),
  fc.record({ Action: fc.constantFrom("Get", "Delete"), Key: fc.constantFrom("a", "b", "ключ", '"q"') }),
  fc.record({ Action: fc.constant("Bogus"), Key: fc.constant("a") }),
);

describe("wasm processes in the engine", () => {
  it("give byte-identical results and state warm, restored from any snapshot, and cold (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(kvOp, { maxLength: 25 }), fc.integer({ min: 1, max: 6 }), async (ops, interval) => {
        const t = wasmEngine({ snapshotInterval: interval, snapshotKeep: 1000 });
        try {
          const p = await t.engine.spawn(message({ "Execution-Device": "wasm@1.0" }), kv);
          const compared = await assertDeterministic(
            t.engine,
            t.store,
            p,
            ops.map((o) => message(o)),
          );
          expect(compared).toBeGreaterThanOrEqual(1 + Math.floor(ops.length / interval));
        } finally {
          await t.engine.close();
        }
      }),
      { numRuns: 12 },
    );
  }, 120_000);

  it("fails the calls waiting on a process whose thread dies, promptly, and the next calls recover every process on it", async () => {
    const t = wasmEngine();
    try {
      const stuck = await t.engine.spawn(message({ "Execution-Device": "wasm@1.0" }), probeModule);
      let neighbour = await t.engine.spawn(message({ "Execution-Device": "wasm@1.0", Name: "0" }), probeModule);
      for (let i = 1; wasm.laneOf(neighbour) !== wasm.laneOf(stuck); i++) {
        neighbour = await t.engine.spawn(message({ "Execution-Device": "wasm@1.0", Name: String(i) }), probeModule);
      }
      for (const p of [stuck, neighbour]) {
        await t.engine.schedule(p, [message({ Do: "count" })]);
        await collect(await t.engine.compute(p, undefined));
      }
      await t.engine.schedule(stuck, [message({ Do: "loop" }), message({ Do: "count" })]);
      const started = Date.now();
      const running = nextRun();
      const computing = collect(await t.engine.compute(stuck, undefined));
      const outcome = computing.then(
        () => "completed",
        (e: { code?: string }) => e.code,
      );
      // Crash the thread while the runaway slot's call is pending on it (well before its 2 s limit).
      await running;
      wasm.crashThreadForTesting(stuck);
      expect(await outcome).toBe("aborted");
      expect(Date.now() - started).toBeLessThan(2_000);
      // The neighbour on the same thread goes on from its last good state.
      await t.engine.schedule(neighbour, [message({ Do: "count" })]);
      const [next] = await collect(await t.engine.compute(neighbour, undefined));
      expect(next?.output?.tags).toEqual({ N: "2", M: "2" });
      // The stuck process recovers too: its runaway slot fails at the limit, the next one counts on.
      const rest = await collect(await t.engine.compute(stuck, undefined));
      expect(rest.map((r) => r.slot)).toEqual([2n, 3n]);
      expect(rest[0]?.error?.message).toMatch(/time limit/);
      expect(rest[1]?.output?.tags).toEqual({ N: "2", M: "2" });
    } finally {
      await t.engine.close();
    }
  }, 60_000);
});
