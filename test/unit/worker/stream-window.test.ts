import { afterEach, describe, expect, it } from "vitest";
import type { SlotResult } from "../../../src/core/result.js";
import { encodeResultResponse } from "../../../src/service/result-bytes.js";
import { createMemoryStore } from "../../../src/store/memory-store.js";
import type { Store } from "../../../src/store/store.js";
import type { EngineConfig } from "../../../src/worker/engine.js";
import { silentLogger } from "../../../src/core/log.js";
import { Changes } from "../../../src/worker/changes.js";
import { ProcessHub } from "../../../src/worker/process-hub.js";
import { RecentResults, resultBytes } from "../../../src/worker/recent-results.js";
import { adds, closeWithoutLeaks, iterate, testEngine, totals, type TestEngine } from "../../support/engine.js";

let t: TestEngine | undefined;
afterEach(async () => {
  if (t && !t.engine.closed) await closeWithoutLeaks(t);
  t = undefined;
});

const SLOTS = 300;

/** A memory store that counts its result reads. */
function countingStore(): { store: Store; reads: () => number } {
  const store = createMemoryStore();
  let reads = 0;
  const readResults = store.readResults.bind(store);
  store.readResults = (...args) => {
    reads++;
    return readResults(...args);
  };
  return { store, reads: () => reads };
}

/** Takes `n` results of a stream. */
async function take(stream: AsyncIterator<SlotResult>, n: number): Promise<SlotResult[]> {
  const out: SlotResult[] = [];
  while (out.length < n) {
    const next = await stream.next();
    if (next.done === true) break;
    out.push(next.value);
  }
  return out;
}

/**
 * A Compute stream of SLOTS slots whose client takes slot 0 and then reads nothing until the
 * worker has published every slot: its queue of 8 overflows and it falls behind. Returns
 * every result it delivered and the store reads it made after slot 0.
 */
async function lagging(config: Partial<EngineConfig>): Promise<{ results: SlotResult[]; reads: number }> {
  const { store, reads } = countingStore();
  t = testEngine({ subscriberBuffer: 8, batchSlots: 16, ...config }, { store });
  const p = await t.spawnCounter();
  await t.engine.schedule(p, adds(...Array.from({ length: SLOTS }, () => 1)));
  const stream = iterate(await t.engine.compute(p, undefined));
  const results = await take(stream, 1);
  await t.engine.await(p, BigInt(SLOTS)); // every slot published while the client read nothing
  const before = reads();
  results.push(...(await take(stream, SLOTS + 1)));
  expect(await stream.next()).toEqual({ value: undefined, done: true });
  const after = reads();
  await closeWithoutLeaks(t);
  return { results, reads: after - before };
}

const counted = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i));

describe("a stream that fell behind its worker", () => {
  it("takes its results from the latest published ones: the store's results, byte for byte, without reading it", async () => {
    const fromStore = await lagging({ streamWindowBytes: 0 });
    const fromWindow = await lagging({});
    expect(totals(fromStore.results)).toEqual(counted(SLOTS + 1));
    expect(fromWindow.results).toEqual(fromStore.results);
    const bytes = (results: SlotResult[]): string[] => results.map((r) => encodeResultResponse(r).toString("hex"));
    expect(bytes(fromWindow.results)).toEqual(bytes(fromStore.results));
    expect(fromStore.reads).toBeGreaterThanOrEqual(Math.floor(SLOTS / 64));
    expect(fromWindow.reads).toBe(0);
  });

  it("reads from the store what the bound has let go, then the rest from memory", async () => {
    const fromStore = await lagging({ streamWindowBytes: 0 });
    const one = resultBytes(fromStore.results[1] as SlotResult);
    const partly = await lagging({ streamWindowBytes: one * 100 });
    expect(partly.results).toEqual(fromStore.results);
    // Slots 1–200 from the store (64 a read), 201–300 from memory.
    expect(partly.reads).toBeGreaterThanOrEqual(Math.ceil(200 / 64));
    expect(partly.reads).toBeLessThan(fromStore.reads);
  });

  it("then takes live results as they come (a subscription)", async () => {
    t = testEngine({ subscriberBuffer: 8, batchSlots: 16 });
    const p = await t.spawnCounter();
    const controller = new AbortController();
    const sub = iterate(await t.engine.subscribe(p, 0n), controller.signal);
    expect(totals(await take(sub, 1))).toEqual(["0"]);
    await t.engine.schedule(p, adds(...Array.from({ length: SLOTS }, () => 1)));
    await t.engine.await(p, BigInt(SLOTS));
    expect(totals(await take(sub, SLOTS))).toEqual(counted(SLOTS + 1).slice(1));
    await t.engine.schedule(p, adds(1, 1, 1));
    expect((await take(sub, 3)).map((r) => r.slot)).toEqual([301n, 302n, 303n]);
    controller.abort();
    await expect(sub.next()).rejects.toMatchObject({ code: "cancelled" });
  });
});

/** A hub of one process whose store has nothing, sharing `recent`. */
async function hubWith(recent: RecentResults, processId: string): Promise<ProcessHub> {
  const hub = new ProcessHub(
    processId,
    {
      source: {
        results: () => Promise.resolve([]),
        latestScheduledSlot: () => Promise.resolve(0n),
        latestResultSlot: () => Promise.resolve(undefined),
      },
      dispatch: () => true,
      groupOf: () => processId,
      logger: silentLogger(),
      changes: new Changes(),
      recent,
      retryMs: { first: 1, max: 1, follow: 1 },
    },
    () => undefined,
  );
  await hub.ready;
  return hub;
}

describe("a process's recent results", () => {
  const processId = "P".repeat(43);
  const result = (slot: number): SlotResult => ({ processId, slot: BigInt(slot), messageId: "M".repeat(43) });

  it("are kept while it has a stream, shared by its streams, and dropped with its last stream", async () => {
    const recent = new RecentResults(1 << 20);
    const hub = await hubWith(recent, processId);
    hub.publish(processId, [result(0)]); // nobody streams: nothing kept
    expect(recent.size).toBe(0);
    const a = hub.openStream({ from: 1n, buffer: 64, leaderBound: false });
    const b = hub.openStream({ from: 1n, buffer: 64, leaderBound: false });
    hub.publish(processId, [result(1), result(2)]);
    expect(recent.size).toBe(2); // once for both streams
    a.close();
    expect(recent.size).toBe(2);
    b.close();
    expect(recent.size).toBe(0);
    expect(recent.bytes).toBe(0);
    expect(hub.empty).toBe(true);
  });

  it("hold only what a stream has yet to take: none while every stream keeps up", async () => {
    const recent = new RecentResults(1 << 20);
    const hub = await hubWith(recent, processId);
    const taken: bigint[][] = [[], []];
    let roomOfB = 1; // b takes one result, then is full until resumed
    const consumer = (i: number, room: () => boolean) => ({
      deliver: (r: SlotResult) => (taken[i]?.push(r.slot), room()),
      end: () => undefined,
      fail: (error: Error) => {
        throw error;
      },
    });
    const a = hub.openStream({ from: 1n, buffer: 64, leaderBound: false });
    const b = hub.openStream({ from: 1n, buffer: 64, leaderBound: false });
    a.start(consumer(0, () => true));
    b.start(consumer(1, () => --roomOfB > 0));
    await new Promise((resolve) => setImmediate(resolve)); // their first store reads (empty)
    hub.publish(processId, [result(1)]);
    expect(recent.size).toBe(0); // both took it at once
    hub.publish(processId, [result(2), result(3), result(4)]);
    expect(taken).toEqual([[1n, 2n, 3n, 4n], [1n]]);
    expect(recent.size).toBe(3); // 2–4: b has yet to take them
    roomOfB = Infinity;
    b.resume();
    expect(taken[1]).toEqual([1n, 2n, 3n, 4n]);
    hub.publish(processId, [result(5)]);
    expect(recent.size).toBe(0); // both took 2–5
    expect(recent.bytes).toBe(0);
    a.close();
    b.close();
    expect(hub.empty).toBe(true);
  });
});
