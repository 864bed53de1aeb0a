/**
 * The engine's side of several nodes, with ownership and signals in memory (the PostgreSQL
 * implementations are tested against a real server elsewhere): one owner computes, the
 * others follow its results; a dead owner's processes are taken over; two owners at once
 * only waste work.
 */
import { afterEach, describe, expect, it } from "vitest";
import { message } from "../../../src/core/message.js";
import { createMemoryStore } from "../../../src/store/memory-store.js";
import type { Store } from "../../../src/store/store.js";
import {
  adds,
  closeWithoutLeaks,
  collect,
  iterate,
  testEngine,
  totals,
  type TestEngine,
} from "../../support/engine.js";
import { memoryCluster, shared, type MemoryCluster } from "../../support/memory-cluster.js";
import { until } from "../../support/until.js";

let nodes: TestEngine[] = [];
let store: Store;
afterEach(async () => {
  for (const t of nodes) if (!t.engine.closed) await closeWithoutLeaks(t);
  await store?.close();
  nodes = [];
});

/** `count` engines on one memory store, joined to one in-memory cluster. */
function cluster(
  count: number,
  config: Parameters<typeof testEngine>[0] = {},
): { c: MemoryCluster; nodes: TestEngine[] } {
  const c = memoryCluster();
  store = createMemoryStore();
  nodes = Array.from({ length: count }, (_, i) => {
    const { ownership, signals, listen } = c.join(`node-${i}`);
    const t = testEngine(config, { store: shared(store), ownership, signals });
    listen(t.engine);
    return t;
  });
  return { c, nodes };
}

describe("several nodes (ownership and signals in memory)", () => {
  it("one node owns and computes; another follows its results without computing", async () => {
    const {
      c,
      nodes: [a, b],
    } = cluster(2);
    const p = await a!.spawnCounter({ Initial: "1" });
    await collect(await a!.engine.compute(p, undefined)); // a owns p now (its worker is live)
    expect(c.ownerOf(p)).toBe("node-0");
    const controller = new AbortController();
    const sub = iterate(await b!.engine.subscribe(p, 0n), controller.signal);
    expect(totals([(await sub.next()).value])).toEqual(["1"]); // from the store
    await b!.engine.schedule(p, adds(2, 3)); // scheduled on b: a hears of it and computes
    expect(totals([(await sub.next()).value, (await sub.next()).value])).toEqual(["3", "6"]);
    expect(b!.probe.steps).toEqual([]); // b computed nothing
    expect(a!.probe.steps.map((s) => s.slot)).toEqual([0n, 1n, 2n]);
    expect((await b!.engine.await(p, 2n)).output?.tags["Total"]).toBe("6");
    controller.abort();
    await expect(sub.next()).rejects.toMatchObject({ code: "cancelled" });
  });

  it("takes over a process whose owner is gone, within about a second, and callers get every slot", async () => {
    const {
      c,
      nodes: [a, b],
    } = cluster(2);
    const p = await a!.spawnCounter();
    await a!.engine.schedule(p, adds(1));
    await collect(await a!.engine.compute(p, undefined));
    const controller = new AbortController();
    const sub = iterate(await b!.engine.subscribe(p, 1n), controller.signal);
    expect(totals([(await sub.next()).value])).toEqual(["1"]);
    c.cut("node-0"); // a's lock connection dies: its locks go, it hears nothing more
    await a!.engine.disownAll();
    const started = Date.now();
    await b!.engine.schedule(p, adds(10));
    expect(totals([(await sub.next()).value])).toEqual(["11"]);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(c.ownerOf(p)).toBe("node-1");
    expect(b!.probe.steps.at(-1)?.slot).toBe(2n);
    controller.abort();
    await expect(sub.next()).rejects.toMatchObject({ code: "cancelled" });
  });

  it("a waiter on a follower gets the slot the owner computes", async () => {
    const {
      nodes: [a, b],
    } = cluster(2);
    const p = await a!.spawnCounter({ Initial: "5" });
    await collect(await a!.engine.compute(p, undefined));
    const waiting = b!.engine.await(p, 1n);
    await until(b!.engine, () => b!.engine.attached().waiters === 1, "b's waiter");
    await a!.engine.schedule(p, adds(1));
    expect(totals([await waiting])).toEqual(["6"]);
    expect(b!.probe.steps).toEqual([]);
  });

  it("two owners at once (a partition) compute the same bytes and nobody sees an error", async () => {
    const c = memoryCluster();
    store = createMemoryStore();
    const always = { acquire: async () => true, release: async () => undefined, ownerOf: async () => undefined };
    nodes = [0, 1].map((i) => {
      const { signals, listen } = c.join(`node-${i}`);
      const t = testEngine({ batchSlots: 4 }, { store: shared(store), ownership: always, signals });
      listen(t.engine);
      return t;
    });
    const [a, b] = nodes;
    const p = await a!.spawnCounter();
    await a!.engine.schedule(p, adds(...Array.from({ length: 40 }, (_, i) => i + 1)));
    const [fromA, fromB] = await Promise.all([
      collect(await a!.engine.compute(p, undefined)),
      collect(await b!.engine.compute(p, undefined)),
    ]);
    const expected = Array.from({ length: 41 }, (_, i) => String((i * (i + 1)) / 2));
    expect(totals(fromA)).toEqual(expected);
    expect(totals(fromB)).toEqual(expected);
    expect(a!.probe.steps.length).toBeGreaterThan(0);
    expect(b!.probe.steps.length).toBeGreaterThan(0); // both really computed
    const stored = await store.readResults(p, 0n, 40n, 100);
    expect(totals(stored)).toEqual(expected);
  });

  it("a dry run on a node that does not own the process runs on the stored state there", async () => {
    const {
      nodes: [a, b],
    } = cluster(2);
    const p = await a!.spawnCounter({ Initial: "2" });
    await a!.engine.schedule(p, adds(3));
    await collect(await a!.engine.compute(p, undefined));
    expect(await b!.engine.dryRun(p, message({ Amount: "10" }))).toMatchObject({
      slot: 1n,
      output: { tags: { Total: "15" } },
    });
    expect((await a!.engine.getProcess(p)).latestScheduledSlot).toBe(1n);
  });
});
