import { randomFillSync } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProcworkerError, type ErrorCode } from "../../../src/core/errors.js";
import { message, type Message } from "../../../src/core/message.js";
import type { SlotResult } from "../../../src/core/result.js";
import type { Store } from "../../../src/store/store.js";
import { openPostgresStore } from "../../../src/store/postgres-store.js";
import { MIGRATIONS } from "../../../src/store/postgres-migrations.js";
import { createTestDatabase, query, startPrivatePostgres, type TestDatabase } from "../../support/postgres.js";
import { storeConformance } from "./conformance.js";

const MAX = 2n ** 64n - 1n;
const msg = (i: number): Message => message({ Action: "Add", N: String(i) }, `data ${i}`);
const ok = (processId: string, slot: bigint, text = `out ${slot}`): SlotResult => ({
  processId,
  slot,
  messageId: `m${slot}`,
  output: message({ Result: text }, text),
});
const byNumber = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProcworkerError); // a StoreFailureError for an outage or a full disk
  expect(error).toMatchObject({ code });
}

let db: TestDatabase;
const opened: Store[] = [];
/** A store on this file's database, closed after the test. */
const open = async (opts: { maxConnections?: number } = {}): Promise<Store> => {
  const store = await openPostgresStore({ url: db.url, ...opts });
  opened.push(store);
  return store;
};
const closeAll = async (): Promise<void> => {
  for (const store of opened.splice(0)) await store.close();
};
/** Closes this test's stores and empties the tables (cheap: the schema stays). */
const empty = async (): Promise<void> => {
  await closeAll();
  await query(
    db.url,
    `DELETE FROM procworker.processes; DELETE FROM procworker.modules; DELETE FROM procworker.schedule;
    DELETE FROM procworker.results; DELETE FROM procworker.snapshots`,
  );
};
/** Closes this test's stores and drops the schema (the next open migrates afresh). */
const reset = async (): Promise<void> => {
  await closeAll();
  await query(db.url, "DROP SCHEMA IF EXISTS procworker CASCADE");
};

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

storeConformance("postgresql", async () => ({ store: await open(), reopen: () => open(), cleanup: empty }));

describe("PostgreSQL store", () => {
  afterEach(reset);

  it("nodes starting together migrate once; a schema newer than the code is refused", async () => {
    await reset(); // a database without the schema
    const stores = await Promise.all(Array.from({ length: 4 }, () => open({ maxConnections: 1 })));
    expect(stores).toHaveLength(4);
    const versions = await query<{ version: number }>(db.url, "SELECT version FROM procworker.schema_migrations");
    expect(versions.map((v) => v.version)).toEqual(MIGRATIONS.map((m) => m.version));
    const next = MIGRATIONS.length + 1;
    await query(db.url, "INSERT INTO procworker.schema_migrations (version, name) VALUES ($1, 'future')", [next]);
    await expect(openPostgresStore({ url: db.url })).rejects.toMatchObject({
      code: "internal",
      message: expect.stringContaining(`at version ${next}`) as unknown,
    });
  });

  it("two nodes appending to one process at once never share a slot or leave a gap", async () => {
    const [a, b] = [await open(), await open()];
    await a.createProcess("p", msg(0), 1);
    let n = 0;
    const appends = Array.from({ length: 40 }, (_, i) => {
      const batch = Array.from({ length: (i % 3) + 1 }, () => msg(++n));
      return (i % 2 ? a : b).appendSchedule("p", batch, i);
    });
    const appended = await Promise.all(appends);
    const slots = appended.flat().map((e) => e.slot);
    expect([...slots].sort(byNumber)).toEqual(Array.from({ length: n }, (_, i) => BigInt(i + 1)));
    for (const entries of appended) entries.forEach((e, i) => expect(e.slot).toBe(entries[0]!.slot + BigInt(i)));
    expect(await b.readSchedule("p", 1n, MAX)).toEqual(appended.flat().sort((x, y) => byNumber(x.slot, y.slot)));
    expect(await a.latestScheduledSlot("p")).toBe(BigInt(n));
  });

  it("a node that appended last and one that did not both append right after the latest slot", async () => {
    const [a, b] = [await open(), await open()];
    await a.createProcess("p", msg(0), 1);
    const slots = async (store: Store, count: number) =>
      (
        await store.appendSchedule(
          "p",
          Array.from({ length: count }, (_, i) => msg(i)),
          1,
        )
      ).map((e) => e.slot);
    expect(await slots(a, 1)).toEqual([1n]);
    expect(await slots(a, 1)).toEqual([2n]); // a knows the latest slot: one statement
    expect(await slots(b, 2)).toEqual([3n, 4n]);
    expect(await slots(a, 1)).toEqual([5n]); // a's idea (2) is stale: it falls back to the lock
    expect(await slots(b, 1)).toEqual([6n]);
    expect((await a.readSchedule("p", 0n, MAX)).map((e) => e.slot)).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n]);
  });

  it("concurrent appends to one process from one node take slots in the order they were called", async () => {
    const store = await open();
    await store.createProcess("p", msg(0), 1);
    const appended = await Promise.all(Array.from({ length: 30 }, (_, i) => store.appendSchedule("p", [msg(i)], i)));
    expect(appended.map((entries) => entries[0]?.slot)).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i + 1)));
    expect(appended.map((entries) => entries[0]?.timestampMs)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect((await store.readSchedule("p", 1n, MAX)).map((e) => e.message)).toEqual(
      Array.from({ length: 30 }, (_, i) => msg(i)),
    );
  });

  it("stores slot − 2^63 in bigint columns; schedules reach 2^64−1 and stop there", async () => {
    const store = await open();
    await store.createProcess("p", msg(0), 1);
    await query(db.url, "UPDATE procworker.processes SET latest_slot = $1", [(MAX - 2n - 2n ** 63n).toString()]);
    const entries = await store.appendSchedule("p", [msg(1), msg(2)], 5);
    expect(entries.map((e) => e.slot)).toEqual([MAX - 1n, MAX]);
    expect(await store.readSchedule("p", MAX, MAX)).toEqual([entries[1]]);
    expect(await store.latestScheduledSlot("p")).toBe(MAX);
    await expectCode(store.appendSchedule("p", [msg(3)], 6), "invalid_argument");
    const stored = await query<{ slot: string }>(db.url, "SELECT slot::text FROM procworker.schedule ORDER BY slot");
    expect(stored.map((r) => r.slot)).toEqual(["-9223372036854775808", "9223372036854775806", "9223372036854775807"]);
  });

  it("two owners writing the same results at once both succeed; the rows are whole", async () => {
    const [a, b] = [await open(), await open()];
    const slots = Array.from({ length: 200 }, (_, i) => BigInt(i));
    const forward = slots.map((s) => ok("p", s, "a"));
    const backward = [...slots].reverse().map((s) => ok("p", s, "b"));
    await Promise.all([a.putResults(forward), b.putResults(backward), a.putResults(forward), b.putResults(backward)]);
    const stored = await a.readResults("p", 0n, MAX);
    expect(stored.map((r) => r.slot)).toEqual(slots);
    const texts = new Set(stored.map((r) => r.output?.tags.Result));
    expect([...texts].every((t) => t === "a" || t === "b")).toBe(true);
  });

  it("putResults with a snapshot is one transaction: a failing snapshot leaves no result", async () => {
    const store = await open();
    await query(db.url, "ALTER TABLE procworker.snapshots ADD CONSTRAINT small CHECK (size < 100)");
    const snapshot = { processId: "p", snapshot: { slot: 2n, state: new Uint8Array(200) } };
    await expectCode(store.putResults([ok("p", 1n), ok("p", 2n)], snapshot), "internal");
    expect(await store.readResults("p", 0n, MAX)).toEqual([]);
    await store.putResults([ok("p", 1n)], { processId: "p", snapshot: { slot: 1n, state: Uint8Array.of(7) } });
    expect(await store.getResult("p", 1n)).toEqual(ok("p", 1n));
    expect(await store.latestSnapshot("p", MAX)).toEqual({ slot: 1n, state: Uint8Array.of(7) });
  });

  it("out of disk space (SQLSTATE 53100) rejects with resource_exhausted", async () => {
    const store = await open();
    await query(
      db.url,
      `CREATE FUNCTION procworker.disk_full() RETURNS trigger LANGUAGE plpgsql AS
         $$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$;
       CREATE TRIGGER disk_full BEFORE INSERT ON procworker.results FOR EACH ROW EXECUTE FUNCTION procworker.disk_full()`,
    );
    await expectCode(store.putResults([ok("p", 1n)]), "resource_exhausted");
    expect(await store.getResult("p", 1n)).toBeUndefined();
  });

  it("a 64 MiB snapshot is stored and read back exactly; overwriting it replaces every chunk", async () => {
    const store = await open();
    const state = new Uint8Array(64 * 1024 * 1024);
    // Half random (incompressible), half zeros, like a memory with data and free pages.
    randomFillSync(state, 0, state.byteLength / 2);
    const expected = state.slice(0, 4096);
    const t0 = performance.now();
    await store.putSnapshot({ processId: "p", snapshot: { slot: 9n, state } });
    const t1 = performance.now();
    const read = await store.latestSnapshot("p", MAX);
    const t2 = performance.now();
    console.log(`64 MiB snapshot: write ${(t1 - t0).toFixed(0)} ms, read ${(t2 - t1).toFixed(0)} ms`);
    expect(read?.slot).toBe(9n);
    expect(read?.state.byteLength).toBe(state.byteLength);
    expect(Buffer.compare(read!.state, state)).toBe(0);
    expect(read!.state.subarray(0, 4096)).toEqual(expected);
    await store.putSnapshot({ processId: "p", snapshot: { slot: 9n, state: Uint8Array.of(1, 2, 3) } });
    expect(await store.latestSnapshot("p", MAX)).toEqual({ slot: 9n, state: Uint8Array.of(1, 2, 3) });
    const chunks = await query<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM procworker.snapshot_chunks");
    expect(chunks[0]?.n).toBe(1);
  });

  it("ids holding U+0000 (which PostgreSQL text cannot) are rejected with invalid_argument", async () => {
    const store = await open();
    await expectCode(store.createProcess("a\u0000b", msg(0), 1), "invalid_argument");
    await expectCode(store.getResult("a\u0000b", 1n), "invalid_argument");
  });
});

describe("PostgreSQL store outage", () => {
  it("calls reject with unavailable while the server is down; the same store works again once it is back", async () => {
    const server = await startPrivatePostgres();
    const store = await openPostgresStore({ url: server.url(), maxConnections: 2 });
    const blocker = new pg.Client({ connectionString: server.url() });
    blocker.on("error", () => undefined); // it loses its connection with the server
    try {
      await store.createProcess("p", msg(0), 1);
      await store.appendSchedule("p", [msg(1)], 2);
      // An append in flight, waiting inside its transaction for the row another session
      // holds, loses its connection as a shutdown ends it (57P01). Its backend is ended
      // first, on its own: a shutdown ends the blocker too, and the append could then still
      // commit before its own backend is told to stop.
      await blocker.connect();
      await blocker.query("BEGIN; SELECT 1 FROM procworker.processes FOR UPDATE");
      const inFlight = store.appendSchedule("p", [msg(2)], 3);
      await untilLockWaited(blocker);
      await blocker.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock'");
      await expectCode(inFlight, "unavailable");
      await server.stop();

      await expectCode(store.getProcess("p"), "unavailable");
      await expectCode(store.appendSchedule("p", [msg(2)], 3), "unavailable");
      await expectCode(store.putResults([ok("p", 1n)]), "unavailable");
      await expectCode(store.latestSnapshot("p", MAX), "unavailable");
      await expect(openPostgresStore({ url: server.url() })).rejects.toMatchObject({
        code: "unavailable",
        message: expect.stringContaining(
          `cannot open the PostgreSQL store at 127.0.0.1:${server.port}/postgres`,
        ) as unknown,
      });

      await server.start();
      expect(await store.latestScheduledSlot("p")).toBe(1n);
      expect((await store.appendSchedule("p", [msg(2)], 4)).map((e) => e.slot)).toEqual([2n]);
      await store.putResults([ok("p", 2n)]);
      expect(await store.getResult("p", 2n)).toEqual(ok("p", 2n));
    } finally {
      await blocker.end().catch(() => undefined);
      await store.close();
      await server.destroy();
    }
  });
});

/** Resolves once some session waits for a lock (the append queued behind `client`'s).
 * PostgreSQL raises no event for that, so this asks pg_stat_activity, a bounded number of
 * times, until it says so. */
async function untilLockWaited(client: pg.Client): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
    );
    if ((rows[0]?.n ?? 0) > 0) return;
  }
  throw new Error("no session waited for the lock");
}
