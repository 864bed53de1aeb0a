import { setMaxListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SlotResult } from "../../../src/core/result.js";
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
import { until } from "../../support/until.js";

let t: TestEngine;
afterEach(async () => {
  vi.useRealTimers();
  if (t && !t.engine.closed) await closeWithoutLeaks(t);
});

describe("worker lifecycle", () => {
  it("snapshots and exits after process_worker_max_idle; the next request restores from it", async () => {
    vi.useFakeTimers();
    t = testEngine({ processWorkerMaxIdle: 300_000, snapshotInterval: 1000 });
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(2, 3));
    expect(totals(await collect(await t.engine.compute(p, undefined)))).toEqual(["0", "2", "5"]);
    expect(t.engine.listWorkers().map((w) => w.state)).toEqual(["idle"]);
    expect(await t.store.latestSnapshot(p, 2n)).toMatchObject({ slot: 0n });
    await vi.advanceTimersByTimeAsync(299_999);
    expect(t.engine.listWorkers()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await t.engine.settled();
    expect(t.engine.listWorkers()).toEqual([]);
    expect(await t.store.latestSnapshot(p, 2n)).toMatchObject({ slot: 2n });
    expect(t.probe.closed).toBe(1);
    await t.engine.schedule(p, adds(4));
    const stepsBefore = t.probe.steps.length;
    expect(totals(await collect(await t.engine.compute(p, undefined)))).toEqual(["9"]);
    expect(t.probe.steps.slice(stepsBefore).map((s) => s.slot)).toEqual([3n]);
  });

  it("serves a request that arrives while the worker is retiring", async () => {
    vi.useFakeTimers();
    const store = heldStore(createMemoryStore());
    t = testEngine({ processWorkerMaxIdle: 1_000, snapshotInterval: 1000 }, { store });
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(1));
    await collect(await t.engine.compute(p, undefined));
    store.hold("putSnapshot");
    const snapshotting = store.waiting("putSnapshot");
    await vi.advanceTimersByTimeAsync(1_000);
    await snapshotting;
    expect(t.engine.listWorkers().map((w) => w.state)).toEqual(["retiring"]);
    await t.engine.schedule(p, adds(10));
    const computing = t.engine.compute(p, undefined).then(collect);
    store.release("putSnapshot");
    expect(totals(await computing)).toEqual(["11"]);
    expect(t.probe.instances).toBe(2);
  });

  it("stops on request: snapshot by default, none with skip_snapshot, and restarts from the store", async () => {
    t = testEngine({ snapshotInterval: 1000 });
    const p = await t.spawnCounter();
    expect(await t.engine.stop(p)).toEqual({ stopped: false, atSlot: undefined });
    await t.engine.schedule(p, adds(1, 1));
    await collect(await t.engine.compute(p, undefined));
    expect(await t.engine.stop(p)).toEqual({ stopped: true, atSlot: 2n });
    expect((await t.store.latestSnapshot(p, 10n))?.slot).toBe(2n);
    await t.engine.schedule(p, adds(1));
    await collect(await t.engine.compute(p, undefined));
    expect(await t.engine.stop(p, true)).toEqual({ stopped: true, atSlot: 3n });
    expect((await t.store.latestSnapshot(p, 10n))?.slot).toBe(2n);
    expect(t.engine.listWorkers()).toEqual([]);
    await t.engine.schedule(p, adds(1));
    expect(totals(await collect(await t.engine.compute(p, undefined)))).toEqual(["4"]);
  });

  it("stops after the slot in progress even in a backlog of slow slots (batches adapt to slot time)", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await collect(await t.engine.compute(p, undefined));
    await t.engine.schedule(p, adds(...Array.from({ length: 6 }, () => ({ "Delay-Ms": "60" }))));
    const started = t.probe.started(); // the next slot to start: slot 1
    const streamed = collect(await t.engine.compute(p, undefined)).catch((e: { code: string }) => e.code);
    await started;
    expect(await t.engine.stop(p)).toEqual({ stopped: true, atSlot: 1n });
    expect(await streamed).toBe("aborted");
    expect(t.probe.steps.map((s) => s.slot)).toEqual([0n, 1n]);
  });

  it("evicts the least recently used idle worker, after a snapshot, when the memory cap is hit", async () => {
    t = testEngine({ maxWorkerBytes: 100, snapshotInterval: 1000 });
    const a = await t.spawnCounter({ Initial: "1" });
    const b = await t.spawnCounter({ Initial: "2" });
    await t.engine.schedule(a, adds(1));
    await collect(await t.engine.compute(a, undefined));
    expect(t.engine.listWorkers().map((w) => w.processId)).toEqual([a]);
    await t.engine.schedule(b, adds(1));
    await collect(await t.engine.compute(b, undefined));
    await until(t.engine, () => t.engine.listWorkers().length === 1, "the eviction");
    expect(t.engine.listWorkers().map((w) => w.processId)).toEqual([b]);
    expect((await t.store.latestSnapshot(a, 10n))?.slot).toBe(1n);
    await t.engine.schedule(a, adds(5));
    expect(totals(await collect(await t.engine.compute(a, undefined)))).toEqual(["7"]);
  });

  it("asks only the worker that computed for its state bytes, once per batch, however many workers are live", async () => {
    /** Computes 40 slots of one process in batches of at most 4 beside `live` idle workers. */
    const askedWith = async (live: number) => {
      const e = testEngine({ batchSlots: 4, snapshotInterval: 1000 });
      try {
        const idle: string[] = [];
        for (let i = 0; i < live; i++) idle.push(await e.spawnCounter({ Initial: String(i) }));
        for (const p of idle) await e.engine.await(p, 0n); // a live, idle worker each
        const p = await e.spawnCounter({ Initial: "-1" });
        await collect(await e.engine.compute(p, undefined));
        expect(e.engine.listWorkers()).toHaveLength(live + 1);
        e.probe.stateBytesCalls.clear();
        const runsBefore = e.probe.calls;
        await e.engine.schedule(p, adds(...Array.from({ length: 40 }, () => 1)));
        expect(totals(await collect(await e.engine.compute(p, undefined))).at(-1)).toBe("39");
        const others = idle.reduce((n, id) => n + (e.probe.stateBytesCalls.get(id) ?? 0), 0);
        return { computing: e.probe.stateBytesCalls.get(p) ?? 0, others, batches: e.probe.calls - runsBefore };
      } finally {
        await closeWithoutLeaks(e);
      }
    };
    const alone = await askedWith(0);
    const crowded = await askedWith(30);
    expect(crowded.others).toBe(0);
    expect(crowded.batches).toBe(alone.batches);
    expect(crowded.batches).toBeGreaterThanOrEqual(10); // 40 slots, at most 4 a batch
    expect(crowded.computing).toBe(alone.computing);
    // once per published batch, and once for each of its few state changes (computing, idle)
    expect(crowded.computing).toBeGreaterThanOrEqual(crowded.batches);
    expect(crowded.computing).toBeLessThanOrEqual(crowded.batches + 4);
  });

  it("retires at once a worker evicted the moment it goes idle (its state alone is over the cap)", async () => {
    // The eviction happens inside the worker's own step into `idle`, before it waits on its
    // mailbox: the wake-up must not be lost, or the worker sits `retiring` for
    // process_worker_max_idle while every call for its process waits on it.
    t = testEngine({ maxWorkerBytes: 10, processWorkerMaxIdle: 300_000, snapshotInterval: 1000 });
    const p = await t.spawnCounter({ Initial: "1" });
    await t.engine.schedule(p, adds(1));
    expect(totals(await collect(await t.engine.compute(p, undefined)))).toEqual(["1", "2"]);
    await until(t.engine, () => t.engine.listWorkers().length === 0, "the evicted worker's end");
    expect((await t.store.latestSnapshot(p, 10n))?.slot).toBe(1n);
    await t.engine.schedule(p, adds(5));
    expect(totals(await collect(await t.engine.compute(p, undefined)))).toEqual(["7"]);
    await until(t.engine, () => t.engine.listWorkers().length === 0, "the second eviction");
  });

  it("reports live workers like HyperBEAM's sitrep", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(1));
    await collect(await t.engine.compute(p, undefined));
    const [info] = t.engine.listWorkers();
    expect(info).toMatchObject({
      group: p,
      processId: p,
      atSlot: 1n,
      mailbox: 0,
      waiters: 0,
      subscribers: 0,
      state: "idle",
    });
    expect(info?.stateBytes).toBeGreaterThan(0);
  });
});

describe("subscriptions", () => {
  async function take(iterator: AsyncIterator<SlotResult>, n: number): Promise<SlotResult[]> {
    const out: SlotResult[] = [];
    while (out.length < n) {
      const next = await iterator.next();
      if (next.done) break;
      out.push(next.value);
    }
    return out;
  }

  it("receives every slot once, in order, across Stop, idle retirement and eviction", async () => {
    t = testEngine({ processWorkerMaxIdle: 50, maxWorkerBytes: 100, snapshotInterval: 3 });
    const p = await t.spawnCounter();
    const other = await t.spawnCounter({ Initial: "100" });
    await t.engine.schedule(p, adds(1, 1));
    await collect(await t.engine.compute(p, undefined));
    const controller = new AbortController();
    const sub = iterate(await t.engine.subscribe(p, 1n), controller.signal);
    const seen = await take(sub, 2);
    await t.engine.stop(p);
    await t.engine.schedule(p, adds(1, 1));
    seen.push(...(await take(sub, 2)));
    await t.engine.settled(); // idle retirement (50 ms of no requests)
    await t.engine.schedule(p, adds(1));
    seen.push(...(await take(sub, 1)));
    // Another process's worker pushes this one's out (eviction), then more slots come.
    await t.engine.schedule(other, adds(1));
    await collect(await t.engine.compute(other, undefined));
    await t.engine.schedule(p, adds(1, 1, 1));
    seen.push(...(await take(sub, 3)));
    expect(seen.map((r) => r.slot)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
    expect(totals(seen)).toEqual(["1", "2", "3", "4", "5", "6", "7", "8"]);
    controller.abort();
    await expect(sub.next()).rejects.toMatchObject({ code: "cancelled" });
    await t.engine.settled();
  });

  it("delivers a new slot to caught-up subscribers without reading the store once per subscriber", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await collect(await t.engine.compute(p, undefined));
    const controller = new AbortController();
    setMaxListeners(20, controller.signal); // one signal for the 20 subscribers
    const subs = await Promise.all(
      Array.from({ length: 20 }, async () => iterate(await t.engine.subscribe(p, 0n), controller.signal)),
    );
    for (const sub of subs) expect((await take(sub, 1)).map((r) => r.slot)).toEqual([0n]);
    const reads = vi.spyOn(t.store, "readResults");
    const next = subs.map((sub) => take(sub, 1));
    await t.engine.schedule(p, adds(1));
    for (const got of await Promise.all(next)) expect(totals(got)).toEqual(["1"]);
    // Each subscriber read the store once when it found nothing after slot 0 (caught up); none for slot 1.
    expect(reads.mock.calls.length).toBeLessThanOrEqual(20);
    reads.mockClear();
    const again = subs.map((sub) => take(sub, 1));
    await t.engine.schedule(p, adds(1));
    for (const got of await Promise.all(again)) expect(totals(got)).toEqual(["2"]);
    expect(reads).not.toHaveBeenCalled();
    controller.abort();
    for (const sub of subs) await expect(sub.next()).rejects.toMatchObject({ code: "cancelled" });
  });

  it("replays stored results and then delivers live ones", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(1, 2));
    await collect(await t.engine.compute(p, undefined));
    const controller = new AbortController();
    const sub = iterate(await t.engine.subscribe(p, 0n), controller.signal);
    expect(totals(await take(sub, 3))).toEqual(["0", "1", "3"]);
    await t.engine.schedule(p, adds(4));
    expect(totals(await take(sub, 1))).toEqual(["7"]);
    controller.abort();
    await expect(sub.next()).rejects.toMatchObject({ code: "cancelled" });
  });

  it("drops a subscriber that takes nothing while more than twice its buffer completes, and keeps others going", async () => {
    t = testEngine({ subscriberBuffer: 4, subscriberStallMs: 0, batchSlots: 2 });
    const p = await t.spawnCounter();
    const slow = iterate(await t.engine.subscribe(p, 0n));
    const fastController = new AbortController();
    const fast = iterate(await t.engine.subscribe(p, 0n), fastController.signal);
    await t.engine.schedule(p, adds(...Array.from({ length: 20 }, () => 1)));
    expect((await take(fast, 21)).map((r) => r.slot)).toEqual(Array.from({ length: 21 }, (_, i) => BigInt(i)));
    await expect(take(slow, 21)).rejects.toMatchObject({ code: "resource_exhausted" });
    fastController.abort();
    await expect(fast.next()).rejects.toMatchObject({ code: "cancelled" });
  });
});

describe("shutdown", () => {
  it("starts no worker for requests left by a worker that retires during shutdown", async () => {
    vi.useFakeTimers();
    const store = heldStore(createMemoryStore());
    t = testEngine({ processWorkerMaxIdle: 1_000, snapshotInterval: 1000 }, { store });
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(1));
    await collect(await t.engine.compute(p, undefined));
    store.hold("putSnapshot");
    const snapshotting = store.waiting("putSnapshot");
    await vi.advanceTimersByTimeAsync(1_000);
    await snapshotting; // retiring, its snapshot held
    await t.engine.schedule(p, adds(1));
    // A Compute now wants slot 2, which the retiring worker does not take: its successor would.
    const computing = t.engine
      .compute(p, undefined)
      .then(collect)
      .catch((e: { code: string }) => e.code);
    await until(t.engine, () => t.engine.attached().streams === 1, "the Compute stream");
    expect(t.engine.listWorkers().map((w) => [w.state, w.mailbox])).toEqual([["retiring", 0]]);
    const closing = t.engine.close();
    store.release("putSnapshot");
    await closing;
    expect(await computing).toBe("unavailable");
    expect(t.engine.listWorkers()).toEqual([]);
    expect(t.probe.instances).toBe(1);
    expect(t.probe.closed).toBe(1);
  });
});
