/**
 * Failover on PostgreSQL with real processes: three nodes run as child processes (as in
 * production: `procworker serve --database-url …`). The node that owns the busy processes —
 * counters and a wasm@1.0 key-value store — is killed with SIGKILL under Schedule and
 * Subscribe load. The others take its processes over within 2 s (its lock dies with its
 * session); every acknowledged message is at its slot; the subscribers on the surviving
 * nodes get every slot once, in order, across the failover; the results equal the model,
 * the wasm process's included (restored from its snapshot plus a replay).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClientReadableStream } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileKvWat } from "../../examples/build.mjs";
import { ProcworkerClient, readAll } from "../../src/service/client.js";
import type { SubscribeResponse } from "../../src/generated/procworker/v1/process_worker_service.js";
import { startChildServer, type ChildServer } from "../support/child-server.js";
import { createTestDatabase, type TestDatabase } from "../support/postgres.js";
import { msg, tagsOf } from "../support/wire.js";

let db: TestDatabase;
let dataDir: string;
let kv: Buffer;
beforeAll(async () => {
  [db, dataDir, kv] = await Promise.all([
    createTestDatabase(),
    mkdtemp(join(tmpdir(), "procworker-failover-")),
    compileKvWat().then((b) => Buffer.from(b)),
  ]);
}, 60_000);
afterAll(async () => {
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
});

interface Node {
  server: ChildServer;
  client: ProcworkerClient;
  address: string;
}

async function startNode(name: string): Promise<Node> {
  const server = await startChildServer(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve"], {
    PROCWORKER_DATABASE_URL: db.url,
    PROCWORKER_DATA_DIR: join(dataDir, name),
    PROCWORKER_SNAPSHOT_INTERVAL: "8",
  });
  const address = `127.0.0.1:${server.port}`;
  return { server, client: new ProcworkerClient(address), address };
}

/** What a subscriber saw, and a way to wait for its n-th result (an event, not a poll). */
function follow(stream: ClientReadableStream<SubscribeResponse>) {
  const seen: { slot: bigint; tags: Record<string, string>; at: number }[] = [];
  const waits: { n: number; resolve: () => void }[] = [];
  stream.on("data", (r: SubscribeResponse) => {
    seen.push({ slot: r.result?.slot ?? -1n, tags: tagsOf(r.result), at: Date.now() });
    for (const w of waits.filter((w) => seen.length >= w.n)) w.resolve();
  });
  const ended = new Promise<void>((resolve) => stream.on("error", () => resolve()));
  const received = (n: number) =>
    seen.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waits.push({ n, resolve }));
  return { stream, seen, ended, received };
}

describe("failover between nodes on PostgreSQL", () => {
  it(
    "a SIGKILLed owner's processes are taken over within 2 s, and nothing is lost or repeated",
    { timeout: 60_000 },
    async () => {
      const nodes = await Promise.all(["a", "b", "c"].map(startNode));
      const [owner, b, c] = nodes as [Node, Node, Node];
      try {
        // The owner computes every process first, so it holds their locks.
        const counters: string[] = [];
        for (let i = 0; i < 3; i++) {
          const process = msg({ "Execution-Device": "counter@1.0", Initial: String(i * 100) });
          counters.push((await owner.client.spawn({ process, module: Buffer.alloc(0) })).processId);
        }
        const wasm = (await owner.client.spawn({ process: msg({ "Execution-Device": "wasm@1.0" }), module: kv }))
          .processId;
        const all = [...counters, wasm];
        for (const processId of all) await readAll(owner.client.compute({ processId }));
        for (const processId of all) {
          expect((await b.client.getProcess({ processId })).worker?.node).toBe(owner.address);
        }
        // Subscribers on the nodes that will survive.
        const subs = all.map((processId, i) => follow((i % 2 ? b : c).client.subscribe({ processId, fromSlot: 0n })));
        // A node that follows a process readies its module (compiled, on a started thread) by
        // itself, so that a takeover costs a restore, not a compile. Run from TypeScript
        // sources on a busy machine that takes seconds; a dry run here waits for it (an event).
        for (const via of [b, c])
          await via.client.dryRun({ processId: wasm, message: msg({ Action: "Get", Key: "k" }) });

        const message = (processId: string, n: number) =>
          processId === wasm ? msg({ Action: "Set", Key: `k${n}`, Value: `v${n}` }) : msg({ Amount: String(n) });
        const acknowledged = new Map<string, bigint[]>(all.map((p) => [p, []]));
        let n = 0;
        const scheduleRound = async () => {
          n++;
          await Promise.all(
            all.map(async (processId, i) => {
              const via = (n + i) % 2 ? b : c;
              const { assignments } = await via.client.schedule({ processId, messages: [message(processId, n)] });
              acknowledged.get(processId)!.push(assignments[0]!.slot);
            }),
          );
        };
        for (let round = 0; round < 10; round++) await scheduleRound();
        await Promise.all(subs.map((s) => s.received(11)));

        const killedAt = Date.now();
        await owner.server.signalGroup("SIGKILL");
        for (let round = 0; round < 10; round++) await scheduleRound();
        await Promise.all(subs.map((s) => s.received(21)));

        // Taken over within 2 s: the first result after the kill came from a survivor in time.
        for (const sub of subs) {
          const first = sub.seen.find((s) => s.slot === 11n);
          expect(first!.at - killedAt).toBeLessThan(2_000);
        }
        for (const processId of all) {
          expect([b.address, c.address]).toContain((await b.client.getProcess({ processId })).worker?.node);
        }
        // Every acknowledged message at its slot, no gap, no repeat.
        for (const processId of all) {
          expect(acknowledged.get(processId)).toEqual(Array.from({ length: 20 }, (_, k) => BigInt(k + 1)));
          const log = await readAll(c.client.readSchedule({ processId, fromSlot: 1n }));
          expect(log.map((e) => Object.fromEntries(e.entry?.message?.tags ?? []))).toEqual(
            Array.from({ length: 20 }, (_, k) => Object.fromEntries(message(processId, k + 1).tags)),
          );
        }
        // Every slot once, in order, equal to the model, across the failover.
        subs.forEach((sub, i) => {
          const processId = all[i]!;
          expect(sub.seen.map((s) => s.slot)).toEqual(Array.from({ length: 21 }, (_, k) => BigInt(k)));
          const want = Array.from({ length: 21 }, (_, k) =>
            processId === wasm
              ? k === 0
                ? { Status: "ready", Keys: "0" }
                : { Status: "stored", Keys: String(k) }
              : { Total: String(i * 100 + (k * (k + 1)) / 2) },
          );
          expect(sub.seen.map((s) => s.tags)).toEqual(want);
        });
        // The wasm process's state survived too: a Get of a key set before the kill.
        const { result } = await b.client.dryRun({ processId: wasm, message: msg({ Action: "Get", Key: "k3" }) });
        expect(tagsOf(result)).toEqual({ Status: "found", Value: "v3" });
        for (const sub of subs) sub.stream.cancel();
        await Promise.all(subs.map((s) => s.ended));
      } finally {
        for (const node of nodes) node.client.close();
        const alive = [b, c].filter((node) => node.server.child.exitCode === null);
        await Promise.all(alive.map((node) => node.server.signalGroup("SIGTERM")));
      }
    },
  );
});
