import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { message } from "../../../src/core/message.js";
import type { StepOutcome } from "../../../src/device/device.js";
import { createWasmDevice, type WasmDevice } from "../../../src/device/wasm/index.js";
import {
  PROBE_WAT,
  errorOf,
  initStep,
  onDifferentLanes,
  probe,
  processFor,
  runOne,
  stepsFrom,
  tagsOf,
  wat,
} from "./wasm-fixtures.js";

/** One device per group of tests with the same limits, closed after the group. */
function deviceFor(opts: Parameters<typeof createWasmDevice>[0]): () => WasmDevice {
  let device: WasmDevice | undefined;
  beforeAll(() => {
    device = createWasmDevice(opts);
  });
  afterAll(() => device?.close());
  return () => device!;
}

describe("wasm@1.0 failures roll the state back", () => {
  // maxReplaySteps 2: batches end with a checkpoint, so rollbacks also start from one.
  const device = deviceFor({ slotTimeLimitMs: 5000, maxMemoryMib: 16, threads: 1, maxReplaySteps: 2 });

  it("a trap, an error output, abort, bad JSON and a bad pointer each fail only their slot", async () => {
    const ctx = processFor(await wat(PROBE_WAT));
    const instance = await device().instantiate(ctx);
    expect(await runOne(instance, initStep(ctx))).toEqual({ output: { tags: {}, data: new Uint8Array() } });
    const kinds = ["trap", "error", "abort", "badjson", "oob"];
    const messages = [probe("count"), ...kinds.flatMap((kind) => [probe(kind), probe("count")])];
    const outcomes = await instance.run(stepsFrom(1n, messages));
    // Every count sees the state before the failed slots: the global and the memory counter agree.
    const counts = outcomes.filter((_, i) => i % 2 === 0).map(tagsOf);
    expect(counts).toEqual([1, 2, 3, 4, 5, 6].map((n) => ({ N: String(n), M: String(n) })));
    const errors = outcomes.filter((_, i) => i % 2 === 1).map(errorOf);
    expect(errors[0]).toMatch(/^trap: .*unreachable/);
    expect(errors[1]).toBe("asked to fail");
    expect(errors[2]).toMatch(/^abort: /);
    expect(errors[3]).toMatch(/^invalid output from the module: it is not JSON/);
    expect(errors[4]).toMatch(/outside memory/);
  });

  it("after a trap in its own batch, the next batch still sees the pre-trap state", async () => {
    const ctx = processFor(await wat(PROBE_WAT));
    const instance = await device().instantiate(ctx);
    await instance.run([initStep(ctx), ...stepsFrom(1n, [probe("count"), probe("count")])]);
    expect(errorOf(await runOne(instance, stepsFrom(3n, [probe("trap")])[0]!))).toMatch(/trap/);
    expect(tagsOf(await runOne(instance, stepsFrom(4n, [probe("count")])[0]!))).toEqual({ N: "3", M: "3" });
  });
});

describe("wasm@1.0 slot time limit", () => {
  const device = deviceFor({ slotTimeLimitMs: 200, maxMemoryMib: 16, threads: 2, maxReplaySteps: 2 });

  it("stops a runaway slot without stalling the main thread or other threads, and goes on", async () => {
    const module = await wat(PROBE_WAT);
    const [looping, other] = onDifferentLanes(module, (id) => device().laneOf(id));
    const sameLane = [1, 2, 3, 4, 5, 6, 7, 8]
      .map((i) => processFor(module, { Neighbour: String(i) }))
      .find((ctx) => device().laneOf(ctx.processId) === device().laneOf(looping.processId))!;
    const a = await device().instantiate(looping);
    const b = await device().instantiate(other);
    const c = await device().instantiate(sameLane);
    await a.run([initStep(looping), ...stepsFrom(1n, [probe("count")])]);
    await b.run([initStep(other)]);
    await c.run([initStep(sameLane), ...stepsFrom(1n, [probe("count")])]);

    const started = performance.now();
    let settled = false;
    const runaway = a.run(stepsFrom(2n, [probe("count"), probe("loop"), probe("count")])).finally(() => {
      settled = true;
    });
    // Queued behind the runaway slot on the same thread: rebuilt elsewhere and re-run.
    const neighbour = c.run(stepsFrom(2n, [probe("count")]));
    // Meanwhile the process on the other thread computes slot after slot.
    let bSlot = 1n;
    while (!settled && bSlot < 1_000_000n) {
      expect(tagsOf(await runOne(b, stepsFrom(bSlot, [probe("count")])[0]!)).N).toBe(String(bSlot));
      bSlot++;
    }
    const outcomes: StepOutcome[] = await runaway;
    const elapsed = performance.now() - started;

    // The main thread stayed free: it ran b's slots one round trip after another while a's
    // slot looped (no timing bound needed: a blocked event loop would have run none).
    expect(bSlot).toBeGreaterThan(10n);
    expect(tagsOf(outcomes[0])).toEqual({ N: "2", M: "2" });
    expect(errorOf(outcomes[1])).toMatch(/^time limit: the slot ran longer than 200 ms/);
    expect(tagsOf(outcomes[2])).toEqual({ N: "3", M: "3" }); // the loop's slot left no trace
    expect(elapsed).toBeGreaterThanOrEqual(200);
    expect(elapsed).toBeLessThan(10_000);
    expect(tagsOf((await neighbour)[0])).toEqual({ N: "2", M: "2" });
    // The next slot computes from the pre-loop state.
    expect(tagsOf(await runOne(a, stepsFrom(5n, [probe("count")])[0]!))).toEqual({ N: "4", M: "4" });
  });

  it("rebuilds a process after its thread was stopped from a rollback log that outgrew its first buffer", async () => {
    const ctx = processFor(await wat(PROBE_WAT), { Name: "big-log" });
    const instance = await device().instantiate(ctx);
    // maxReplaySteps 2: a checkpoint after the second count, then an empty log.
    await instance.run([initStep(ctx), ...stepsFrom(1n, [probe("count"), probe("count")])]);
    // One logged input of about 4 KiB: the log moves to a bigger buffer (no checkpoint yet).
    const big = message({ Do: "count", Pad: "x".repeat(4000) });
    expect(tagsOf((await instance.run(stepsFrom(3n, [big])))[0])).toEqual({ N: "3", M: "3" });
    // The loop costs the thread; the process is rebuilt from the checkpoint and that log.
    expect(errorOf((await instance.run(stepsFrom(4n, [probe("loop")])))[0])).toMatch(/^time limit: /);
    expect(tagsOf(await runOne(instance, stepsFrom(4n, [probe("count")])[0]!))).toEqual({ N: "4", M: "4" });
    await instance.close();
  });

  it("refuses a module whose start function never returns", async () => {
    const module = await wat(`(module (memory (export "memory") 1)
      (func $start (loop $l (br $l))) (start $start)
      (func (export "pw_alloc") (param i32) (result i32) (i32.const 0))
      (func (export "pw_handle") (param i32 i32) (result i64) (i64.const 0)))`);
    await expect(device().validate(processFor(module))).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/start function\) ran longer than 200 ms/),
    });
  });
});

describe("wasm@1.0 memory limit", () => {
  const device = deviceFor({ slotTimeLimitMs: 5000, maxMemoryMib: 4, threads: 1 });

  it("memory.grow returns -1 at the cap inside the module, and the process keeps working", async () => {
    const ctx = processFor(await wat(PROBE_WAT));
    const instance = await device().instantiate(ctx);
    const outcomes = await instance.run([
      initStep(ctx),
      ...stepsFrom(1n, [probe("grow"), probe("count"), probe("grow")]),
    ]);
    expect(tagsOf(outcomes[1])).toEqual({ Pages: "64" }); // 4 MiB = 64 pages of 64 KiB
    expect(tagsOf(outcomes[2])).toEqual({ N: "1", M: "1" });
    expect(tagsOf(outcomes[3])).toEqual({ Pages: "64" });
    expect(instance.stateBytes()).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(instance.stateBytes()).toBeLessThanOrEqual(2 * 4 * 1024 * 1024 + 4096);
  });

  it("a declared maximum below the cap is kept", async () => {
    const ctx = processFor(
      await wat(PROBE_WAT.replace(`(memory (export "memory") 1)`, `(memory (export "memory") 1 3)`)),
    );
    const instance = await device().instantiate(ctx);
    expect(tagsOf((await instance.run(stepsFrom(1n, [probe("grow")])))[0])).toEqual({ Pages: "3" });
  });
});

describe("wasm@1.0 thread crash", () => {
  // maxReplaySteps 2: rebuilding after the crash starts from checkpoints the thread took.
  const device = deviceFor({ slotTimeLimitMs: 5000, maxMemoryMib: 16, threads: 1, maxReplaySteps: 2 });

  it("rejects pending calls at once with a clear error; processes recover from their last good state", async () => {
    const module = await wat(PROBE_WAT);
    const ctxA = processFor(module, { Name: "a" });
    const ctxB = processFor(module, { Name: "b" });
    const a = await device().instantiate(ctxA);
    const b = await device().instantiate(ctxB);
    await a.run([initStep(ctxA), ...stepsFrom(1n, [probe("count"), probe("count")])]);
    await b.run([initStep(ctxB), ...stepsFrom(1n, [probe("count")])]);
    const snapshot = await a.exportState();

    device().crashThreadForTesting(ctxA.processId);
    const pending = a.run(stepsFrom(3n, [probe("count")]));
    const started = performance.now();
    await expect(pending).rejects.toMatchObject({
      name: "ThreadLostError",
      code: "aborted",
      message: expect.stringMatching(
        /exited unexpectedly \(exit code 70\) before answering run; .*restored from its last snapshot/,
      ),
    });
    expect(performance.now() - started).toBeLessThan(2000);

    // A fresh device instance restored from the snapshot continues exactly.
    const restored = await device().instantiate(ctxA);
    await restored.importState(snapshot);
    expect(tagsOf(await runOne(restored, stepsFrom(3n, [probe("count")])[0]!))).toEqual({ N: "3", M: "3" });
    // Processes whose runners lived on the crashed thread are rebuilt on their next call.
    expect(tagsOf(await runOne(a, stepsFrom(3n, [probe("count")])[0]!))).toEqual({ N: "3", M: "3" });
    expect(tagsOf(await runOne(b, stepsFrom(2n, [probe("count")])[0]!))).toEqual({ N: "2", M: "2" });
  });
});
