/**
 * Several nodes on one PostgreSQL, in one process: three real servers (gRPC on port 0, the
 * PostgreSQL store, advisory-lock ownership, LISTEN/NOTIFY signals). Clients call random
 * nodes; every result equals a model; no process ever has a worker on two nodes; streams on
 * nodes that do not own a process get every slot once, in order. Then: two owners at once
 * only waste work; a PostgreSQL restart under load ends calls UNAVAILABLE and loses nothing
 * acknowledged.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { singleNode } from "../../src/core/cluster.js";
import { silentLogger } from "../../src/core/log.js";
import { message } from "../../src/core/message.js";
import { createCounterDevice } from "../../src/device/counter.js";
import { createDeviceRegistry } from "../../src/device/registry.js";
import { readAll } from "../../src/service/client.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { Engine } from "../../src/worker/engine.js";
import { createTestDatabase, startPrivatePostgres, type TestDatabase } from "../support/postgres.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { collect } from "../support/streams.js";
import { msg, tagsOf } from "../support/wire.js";

let db: TestDatabase;
let nodes: TestServer[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

/** A small deterministic random generator, so a failure can be replayed. */
function random(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
}

const counter = (initial: number) => msg({ "Execution-Device": "counter@1.0", Initial: String(initial) });

describe("three nodes on one PostgreSQL", () => {
  it("serve 50 counter processes from any node: every result equals the model, one worker per process, streams complete", async () => {
    nodes = await Promise.all([0, 1, 2].map(() => startTestServer({ databaseUrl: db.url, wasmThreads: 1 })));
    const pick = random(7);
    const node = () => nodes[pick(nodes.length)]!.client;
    const ids: string[] = [];
    const model: bigint[][] = []; // per process: the total after each slot
    for (let i = 0; i < 50; i++) {
      ids.push((await node().spawn({ process: counter(i), module: Buffer.alloc(0) })).processId);
      model.push([BigInt(i)]);
    }
    // One subscriber per process, each on a random node, from slot 0.
    const subscriptions = ids.map((processId) => {
      const stream = node().subscribe({ processId, fromSlot: 0n });
      const seen: { slot: bigint; total: string }[] = [];
      const waits: { n: number; resolve: () => void }[] = [];
      stream.on("data", (r: { result?: Parameters<typeof tagsOf>[0] & { slot: bigint } }) => {
        seen.push({ slot: r.result?.slot ?? -1n, total: tagsOf(r.result)["Total"] ?? "?" });
        for (const w of waits.filter((w) => seen.length >= w.n)) w.resolve();
      });
      const ended = new Promise<void>((resolve) => stream.on("error", () => resolve()));
      const received = (n: number) =>
        seen.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waits.push({ n, resolve }));
      return { stream, seen, ended, received };
    });
    // Sample every node's ListWorkers back to back while the load runs.
    let loading = true;
    let samples = 0;
    const doubles: string[] = [];
    const sampling = (async () => {
      while (loading) {
        const lists = await Promise.all(nodes.map((n) => n.client.listWorkers()));
        const seenOn = new Map<string, number>();
        for (const { workers } of lists)
          for (const w of workers) seenOn.set(w.processId, (seenOn.get(w.processId) ?? 0) + 1);
        for (const [processId, count] of seenOn) if (count > 1) doubles.push(`${processId} on ${count} nodes`);
        samples++;
      }
    })();
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        ids.map(async (processId, i) => {
          const amounts = Array.from({ length: 1 + pick(3) }, () => 1 + pick(9));
          const { assignments } = await node().schedule({
            processId,
            messages: amounts.map((a) => msg({ Amount: String(a) })),
          });
          const totals = model[i]!;
          for (const a of amounts) totals.push(totals[totals.length - 1]! + BigInt(a));
          expect(assignments.map((a) => a.slot)).toEqual(
            amounts.map((_, k) => BigInt(totals.length - amounts.length + k)),
          );
          const latest = BigInt(totals.length - 1);
          if (pick(2) === 0) {
            const { result } = await node().await({ processId, slot: latest }, { timeoutMs: 20_000 });
            expect(tagsOf(result)["Total"]).toBe(String(totals[Number(latest)]));
          } else {
            const streamed = await readAll(node().compute({ processId, slot: latest }, { timeoutMs: 20_000 }));
            expect(streamed.at(-1)?.result?.slot).toBe(latest);
            for (const r of streamed) expect(tagsOf(r.result)["Total"]).toBe(String(totals[Number(r.result?.slot)]));
          }
        }),
      );
    }
    loading = false;
    await sampling;
    expect(samples).toBeGreaterThan(0);
    expect(doubles).toEqual([]);
    // Every subscriber, wherever it is, got every slot once and in order.
    await Promise.all(subscriptions.map(({ received }, i) => received(model[i]!.length)));
    subscriptions.forEach(({ seen }, i) => {
      expect(seen.map((s) => s.slot)).toEqual(model[i]!.map((_, slot) => BigInt(slot)));
      expect(seen.map((s) => s.total)).toEqual(model[i]!.map(String));
    });
    for (const { stream } of subscriptions) stream.cancel();
    await Promise.all(subscriptions.map((s) => s.ended));
    // Each process was computed on one node: GetProcess anywhere names the same node.
    const owners = await Promise.all(ids.slice(0, 5).map((processId) => node().getProcess({ processId })));
    for (const got of owners) expect(nodes.map((n) => n.address)).toContain(got.worker?.node);
  });

  it("two owners at once (a partition) compute the same bytes, and neither sees an error", async () => {
    const stores = await Promise.all([0, 1].map(() => openPostgresStore({ url: db.url })));
    const always = { ...singleNode.ownership, acquire: () => Promise.resolve(true) }; // both think they own
    const engines = stores.map(
      (store) =>
        new Engine({
          store,
          devices: createDeviceRegistry([createCounterDevice({ slotTimeLimitMs: 5_000 })]),
          logger: silentLogger(),
          ownership: always,
          config: {
            processWorkers: true,
            processWorkerMaxIdle: 60_000,
            snapshotInterval: 8,
            snapshotKeep: 2,
            maxWorkerBytes: 1 << 30,
            maxAwaitMs: 30_000,
            subscriberStallMs: 2_000,
            subscriberBuffer: 1024,
            batchSlots: 4,
          },
        }),
    );
    try {
      const [a, b] = engines as [Engine, Engine];
      const p = await a.spawn(message({ "Execution-Device": "counter@1.0" }));
      await a.schedule(
        p,
        Array.from({ length: 60 }, (_, i) => message({ Amount: String(i + 1) })),
      );
      const [fromA, fromB] = await Promise.all([
        collect(await a.compute(p, undefined)),
        collect(await b.compute(p, undefined)),
      ]);
      const expected = Array.from({ length: 61 }, (_, i) => String((i * (i + 1)) / 2));
      // Each computed from where the store was when it started, up to the end, at the same time.
      for (const stream of [fromA, fromB]) {
        expect(stream.at(-1)?.slot).toBe(60n);
        for (const r of stream) expect(r.output?.tags["Total"]).toBe(expected[Number(r.slot)]);
      }
      expect(fromA[0]?.slot).toBe(0n);
      expect(fromB[0]!.slot).toBeLessThan(60n); // b started before a had finished
      const stored = await stores[0]!.readResults(p, 0n, 60n, 100);
      expect(stored.map((r) => r.output?.tags["Total"])).toEqual(expected);
    } finally {
      await Promise.all(engines.map((e) => e.close()));
    }
  });

  it("a PostgreSQL restart under load: calls meanwhile end UNAVAILABLE, nodes reconnect by themselves, nothing acknowledged is lost", async () => {
    const server = await startPrivatePostgres();
    const own = await createTestDatabase(server.url());
    try {
      nodes = await Promise.all([0, 1].map(() => startTestServer({ databaseUrl: own.url, wasmThreads: 1 })));
      const [a, b] = nodes as [TestServer, TestServer];
      const p = (await a.client.spawn({ process: counter(0), module: Buffer.alloc(0) })).processId;
      const acknowledged: bigint[] = [];
      const schedule = async (via: TestServer, amount: number) => {
        const { assignments } = await via.client.schedule(
          { processId: p, messages: [msg({ Amount: String(amount) })] },
          { timeoutMs: 10_000 },
        );
        acknowledged.push(assignments[0]!.slot);
      };
      for (let i = 1; i <= 5; i++) await schedule(i % 2 ? a : b, i);
      expect(tagsOf((await b.client.await({ processId: p, slot: 5n })).result)).toEqual({ Total: "15" });

      await server.stop();
      const during = await Promise.allSettled([
        schedule(a, 100),
        schedule(b, 100),
        a.client.getProcess({ processId: p }),
      ]);
      for (const outcome of during) {
        expect(outcome.status).toBe("rejected");
        expect((outcome as PromiseRejectedResult).reason as ServiceError).toMatchObject({ code: status.UNAVAILABLE });
      }

      await server.start();
      // The nodes reconnect by themselves: the next calls work (a pool connection may fail
      // once more, UNAVAILABLE, while it notices the restart; a client retries that).
      const retry = async <T>(call: () => Promise<T>): Promise<T> => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await call();
          } catch (error) {
            if ((error as ServiceError).code !== status.UNAVAILABLE || attempt >= 5) throw error;
          }
        }
      };
      for (let i = 6; i <= 8; i++) await retry(() => schedule(i % 2 ? a : b, i));
      expect(acknowledged).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]); // no gap, nothing lost
      const { result } = await retry(() => a.client.await({ processId: p, slot: 8n }, { timeoutMs: 20_000 }));
      expect(tagsOf(result)).toEqual({ Total: "36" });
      const computed = await readAll(b.client.compute({ processId: p, slot: 8n }, { timeoutMs: 20_000 }));
      expect(computed.map((r) => tagsOf(r.result)["Total"])).toEqual(["36"]);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      nodes = [];
      await own.drop().catch(() => undefined);
      await server.destroy();
    }
  });
});
