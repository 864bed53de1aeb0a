import { afterEach, describe, expect, it } from "vitest";
import { message } from "../../../src/core/message.js";
import { adds, closeWithoutLeaks, collect, testEngine, totals, type TestEngine } from "../../support/engine.js";

let t: TestEngine;
afterEach(async () => {
  if (t && !t.engine.closed) await closeWithoutLeaks(t);
});

describe("compute", () => {
  it("streams every slot from the first uncomputed one to the target, in order", async () => {
    t = testEngine();
    const p = await t.spawnCounter({ Initial: "10" });
    const assigned = await t.engine.schedule(p, adds(1, 2, 3));
    expect(assigned.map((a) => a.slot)).toEqual([1n, 2n, 3n]);
    const first = await collect(await t.engine.compute(p, 2n));
    expect(first.map((r) => r.slot)).toEqual([0n, 1n, 2n]);
    expect(totals(first)).toEqual(["10", "11", "13"]);
    expect(first[1]?.messageId).toBe(assigned[0]?.messageId);
    const rest = await collect(await t.engine.compute(p, undefined));
    expect(rest.map((r) => r.slot)).toEqual([3n]);
    expect(totals(rest)).toEqual(["16"]);
  });

  it("returns just the stored result for an already computed target", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(5, 5));
    await collect(await t.engine.compute(p, 2n));
    const calls = t.probe.calls;
    const again = await collect(await t.engine.compute(p, 1n));
    expect(again.map((r) => [r.slot, r.output?.tags["Total"]])).toEqual([[1n, "5"]]);
    expect(t.probe.calls).toBe(calls);
  });

  it("refuses a target past the schedule with out_of_range", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await expect(t.engine.compute(p, 1n)).rejects.toMatchObject({ code: "out_of_range" });
  });

  it("rejects malformed and unknown process ids distinctly", async () => {
    t = testEngine();
    await expect(t.engine.compute("nope", undefined)).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(t.engine.compute("A".repeat(43), undefined)).rejects.toMatchObject({ code: "not_found" });
    await expect(t.engine.schedule("A".repeat(43), adds(1))).rejects.toMatchObject({ code: "not_found" });
    await expect(t.engine.schedule(await t.spawnCounter(), [])).rejects.toMatchObject({ code: "invalid_argument" });
  });

  it("stores a failing slot as an error result and keeps the state from before it", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(1, "x", 2));
    const results = await collect(await t.engine.compute(p, undefined));
    expect(totals(results)).toEqual(["0", "1", 'error: Amount must be an integer, got "x"', "3"]);
    expect(results[2]?.error).toMatchObject({ phase: "compute", attemptedSlot: 2n });
    expect(results[2]?.output).toBeUndefined();
    expect(await t.store.getResult(p, 2n)).toMatchObject({ error: { phase: "compute", attemptedSlot: 2n } });
  });

  it("advances the worker's state on success (the pattern HyperBEAM once got wrong)", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(1));
    await collect(await t.engine.compute(p, undefined));
    const stepsBefore = t.probe.steps.length;
    await t.engine.schedule(p, adds(1));
    expect(totals(await collect(await t.engine.compute(p, undefined)))).toEqual(["2"]);
    // One more step, not a replay from slot 0: the kept state is the new one.
    expect(t.probe.steps.length - stepsBefore).toBe(1);
    expect(t.probe.instances).toBe(1);
  });

  it("serialises the requests to one worker (persistent worker: total ≥ sum of steps)", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds({ "Delay-Ms": "40" }, { "Delay-Ms": "40" }, { "Delay-Ms": "40" }));
    const started = performance.now();
    const all = await Promise.all([1n, 2n, 3n, 3n].map(async (s) => collect(await t.engine.compute(p, s))));
    const elapsed = performance.now() - started;
    expect(t.probe.maxRunning).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(3 * 40 - 5);
    expect(all.at(-1)?.at(-1)?.output?.tags["Total"]).toBe("3");
    expect(t.probe.steps.map((s) => s.slot)).toEqual([0n, 1n, 2n, 3n]);
  });

  it("with process workers off, computes identical concurrent requests once (dedup)", async () => {
    t = testEngine({ processWorkers: false });
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(2, 2));
    t.probe.hold();
    const a = t.engine.compute(p, 2n);
    const b = t.engine.compute(p, 2n);
    const [ra, rb] = await Promise.all([
      a.then(collect),
      b.then(collect),
      t.probe.started().then(() => t.probe.open()),
    ]);
    expect(totals(ra)).toEqual(["0", "2", "4"]);
    expect(rb).toEqual(ra);
    expect(t.probe.steps.map((s) => s.slot)).toEqual([0n, 1n, 2n]);
    expect(t.probe.instances).toBe(1);
  });

  it("with process workers off, keeps no long-lived worker: each compute restores and replays", async () => {
    t = testEngine({ processWorkers: false, snapshotInterval: 1000 });
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(1));
    await collect(await t.engine.compute(p, undefined));
    await t.engine.schedule(p, adds(1));
    expect(totals(await collect(await t.engine.compute(p, undefined)))).toEqual(["2"]);
    expect(t.probe.instances).toBe(2);
  });

  it("starts a worker from the state a previous execution produced (spawn after execution)", async () => {
    const first = testEngine({ processWorkers: false, snapshotInterval: 1000 });
    const p = await first.spawnCounter();
    await first.engine.schedule(p, adds(3, 4));
    await collect(await first.engine.compute(p, undefined));
    await first.engine.settled();
    // Same store, now with long-lived workers: the worker resumes from the snapshot the one-shot left.
    t = testEngine({ processWorkers: true }, { store: first.store });
    await t.engine.schedule(p, adds(5));
    expect(totals(await collect(await t.engine.compute(p, undefined)))).toEqual(["12"]);
    expect(t.probe.steps.map((s) => s.slot)).toEqual([3n]);
    await first.engine.close().catch(() => undefined);
  });

  it("snapshots every snapshot_interval slots and keeps the newest snapshot_keep", async () => {
    t = testEngine({ snapshotInterval: 2, snapshotKeep: 2 });
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(...Array.from({ length: 9 }, () => 1)));
    await collect(await t.engine.compute(p, undefined));
    const kept = [];
    for (let slot = 0n; slot <= 9n; slot++) if ((await t.store.latestSnapshotSlot(p, slot)) === slot) kept.push(slot);
    expect(kept).toEqual([6n, 8n]);
    expect(new TextDecoder().decode((await t.store.latestSnapshot(p, 9n))?.state)).toBe("8");
  });

  it("is idempotent on spawn and validates device parameters", async () => {
    t = testEngine();
    const a = await t.spawnCounter({ Initial: "7" });
    expect(await t.spawnCounter({ Initial: "7" })).toBe(a);
    await expect(t.spawnCounter({ Initial: "seven" })).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(t.engine.spawn(message({ "Execution-Device": "nope@1.0" }))).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(t.engine.spawn(message({}))).rejects.toMatchObject({ code: "invalid_argument" });
  });
});
