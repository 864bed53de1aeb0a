/**
 * The engine on a store that fails for a while (test/support/faulty-store.ts): a failed write
 * is never acknowledged, a failed read is a status and never a crash, and callers that wait
 * ride the outage out: the engine retries with backoff and, once the store heals, every
 * acknowledged message is there and computes to the results a fault-free run gives.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createMemoryStore } from "../../../src/store/memory-store.js";
import { resultBytes } from "../../support/determinism.js";
import {
  adds,
  closeWithoutLeaks,
  collect,
  iterate,
  testEngine,
  totals,
  type TestEngine,
} from "../../support/engine.js";
import { faultyStore, READ_METHODS, type FaultyStore } from "../../support/faulty-store.js";
import { until } from "../../support/until.js";

let t: TestEngine | undefined;
afterEach(async () => {
  if (t && !t.engine.closed) await closeWithoutLeaks(t);
  t = undefined;
});

function faulty(): { store: FaultyStore; engine: TestEngine } {
  const store = faultyStore(createMemoryStore());
  return { store, engine: (t = testEngine({}, { store })) };
}

/** The results a fault-free engine computes for the same messages. */
async function reference(amounts: number[]): Promise<string> {
  const clean = testEngine();
  const p = await clean.spawnCounter();
  await clean.engine.schedule(p, adds(...amounts));
  const results = await collect(await clean.engine.compute(p, undefined));
  await closeWithoutLeaks(clean);
  return resultBytes(results);
}

describe("a store that fails for a while", () => {
  it("never acknowledges a failed Schedule, and slots go on without a gap once it heals", async () => {
    const { store, engine: e } = faulty();
    const p = await e.spawnCounter();
    await e.engine.schedule(p, adds(1, 2));
    store.fail("io", ["appendSchedule"]);
    await expect(e.engine.schedule(p, adds(3))).rejects.toMatchObject({
      name: "StoreFailureError",
      code: "unavailable",
      message: "the store failed (Input/output error); retry later",
    });
    store.fail("disk_full", ["appendSchedule"]);
    await expect(e.engine.schedule(p, adds(3))).rejects.toMatchObject({
      code: "resource_exhausted",
      message: "the store is full (ENOSPC)",
    });
    store.heal();
    expect((await e.engine.schedule(p, adds(3))).map((entry) => entry.slot)).toEqual([3n]);
    const results = await collect(await e.engine.compute(p, undefined));
    expect(resultBytes(results)).toBe(await reference([1, 2, 3]));
  });

  it("answers reads with the store's status while it fails, then as before", async () => {
    const { store, engine: e } = faulty();
    const p = await e.spawnCounter();
    await e.engine.schedule(p, adds(4));
    expect((await e.engine.await(p, 1n)).output?.tags["Total"]).toBe("4");
    store.fail("connection_lost", READ_METHODS);
    await expect(e.engine.await(p, 1n)).rejects.toMatchObject({ code: "unavailable" });
    await expect(e.engine.getProcess(p)).rejects.toMatchObject({ code: "unavailable" });
    store.heal();
    expect((await e.engine.getProcess(p)).latestComputedSlot).toBe(1n);
  });

  for (const fault of ["io", "disk_full"] as const) {
    it(`keeps an Await and a subscriber waiting through failed result writes (${fault}), and completes them once it heals`, async () => {
      const { store, engine: e } = faulty();
      const p = await e.spawnCounter();
      const subscriber = iterate(await e.engine.subscribe(p, 0n));
      expect((await subscriber.next()).value?.slot).toBe(0n);
      store.fail(fault, ["putResults"]);
      await e.engine.schedule(p, adds(1, 2, 3));
      const waiting = e.engine.await(p, 3n);
      // The worker fails on its write, and a fresh one is tried again with backoff.
      await store.failed(2);
      expect(e.engine.attached()).toMatchObject({ waiters: 1, streams: 1 });
      store.heal();
      expect((await waiting).output?.tags["Total"]).toBe("6");
      const seen = [];
      for (let i = 0; i < 3; i++) seen.push((await subscriber.next()).value);
      expect(totals(seen as never)).toEqual(["1", "3", "6"]);
      await subscriber.return?.();
      // Everything acknowledged is there and computes to the fault-free results.
      const stored = await e.store.readResults(p, 0n, 3n, 10);
      expect(resultBytes(stored)).toBe(await reference([1, 2, 3]));
    });
  }

  it("gives a subscriber that must catch up from the store every slot once reads work again", async () => {
    const { store, engine: e } = faulty();
    const p = await e.spawnCounter();
    await e.engine.schedule(p, adds(1, 1, 1));
    await collect(await e.engine.compute(p, undefined));
    store.fail("io", ["readResults"]);
    const subscriber = iterate(await e.engine.subscribe(p, 0n));
    const first = subscriber.next();
    await store.failed(2); // its read failed and was tried again
    store.heal();
    const seen = [(await first).value];
    for (let i = 0; i < 3; i++) seen.push((await subscriber.next()).value);
    expect(totals(seen as never)).toEqual(["0", "1", "2", "3"]);
    await subscriber.return?.();
    await until(e.engine, () => e.engine.attached().streams === 0, "the subscriber to leave");
  });
});
