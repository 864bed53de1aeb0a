import { afterEach, describe, expect, it, vi } from "vitest";
import { createMemoryStore } from "../../../src/store/memory-store.js";
import {
  adds,
  closeWithoutLeaks,
  collect,
  iterate,
  testEngine,
  totals,
  type TestEngine,
} from "../../support/engine.js";
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

  it("computes the next batch while a batch's write is in flight, but publishes nothing before its own write is durable", async () => {
    const store = heldStore(createMemoryStore());
    t = testEngine({ batchSlots: 4, snapshotInterval: 1000 }, { store });
    const p = await t.spawnCounter();
    await collect(await t.engine.compute(p, undefined)); // slot 0: the worker is live
    await t.engine.schedule(p, adds(...Array.from({ length: 12 }, () => 1)));
    const writes = vi.spyOn(store, "putResults");
    store.hold("putResults");
    const held = store.waiting("putResults");
    const seen: bigint[] = [];
    const streamed = t.engine.compute(p, undefined).then(async (stream) => {
      for await (const result of iterate(stream)) seen.push(result.slot);
    });
    await held; // the first batch (slot 1) is being written, and the write is held
    const stepsBefore = t.probe.steps.length;
    await t.probe.started(); // the next batch is computed meanwhile (its steps are taken at once)
    expect(t.probe.steps.length).toBeGreaterThan(stepsBefore);
    expect(writes).toHaveBeenCalledTimes(1); // its write waits for the first one
    expect(seen).toEqual([]); // nothing published before its write is durable
    expect(await t.store.getResult(p, 1n)).toBeUndefined();
    store.release("putResults");
    await streamed;
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => BigInt(i + 1)));
    expect(writes.mock.calls.length).toBeGreaterThanOrEqual(4);
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
