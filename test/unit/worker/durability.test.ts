import { afterEach, describe, expect, it } from "vitest";
import { createMemoryStore } from "../../../src/store/memory-store.js";
import { adds, closeWithoutLeaks, collect, testEngine, totals, type TestEngine } from "../../support/engine.js";
import { heldStore } from "../../support/stores.js";

let t: TestEngine;
afterEach(async () => {
  if (t && !t.engine.closed) await closeWithoutLeaks(t);
});

describe("durability order (docs/design.md §2.10)", () => {
  it("computes and notifies nothing before the schedule entry is durable", async () => {
    const store = heldStore(createMemoryStore());
    t = testEngine({}, { store });
    const p = await t.spawnCounter();
    await collect(await t.engine.compute(p, undefined));
    const stepsBefore = t.probe.steps.length;
    const waiting = t.engine.await(p, 1n);
    let notified = false;
    void waiting.then(() => (notified = true));
    store.hold("appendSchedule");
    const held = store.waiting("appendSchedule");
    const acknowledged = t.engine.schedule(p, adds(5));
    await held;
    // The append is not durable yet: the slot is not visible, not computed, not notified.
    await expect(t.engine.compute(p, 1n)).rejects.toMatchObject({ code: "out_of_range" });
    expect(t.probe.steps.length).toBe(stepsBefore);
    expect(await t.store.getResult(p, 1n)).toBeUndefined();
    expect(notified).toBe(false);
    store.release("appendSchedule");
    expect((await acknowledged).map((a) => a.slot)).toEqual([1n]);
    expect((await waiting).output?.tags["Total"]).toBe("5");
  });

  it("stores a result before any caller sees it", async () => {
    const store = heldStore(createMemoryStore());
    t = testEngine({}, { store });
    const p = await t.spawnCounter();
    store.hold("putResults");
    const held = store.waiting("putResults");
    let seen = false;
    const computing = t.engine
      .compute(p, undefined)
      .then(collect)
      .then((r) => ((seen = true), r));
    await held;
    expect(seen).toBe(false);
    store.release("putResults");
    expect(totals(await computing)).toEqual(["0"]);
    expect(await t.store.getResult(p, 0n)).toMatchObject({ slot: 0n, output: { tags: { Total: "0" } } });
  });

  it("keeps slot numbers above 2^53 exact through await", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    const big = 2n ** 53n + 1n;
    const controller = new AbortController();
    const waiting = t.engine.await(p, big, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: "cancelled" });
    expect((await t.engine.group(p, "now", big)).name).not.toBe((await t.engine.group(p, "now", big - 1n)).name);
  });
});
