/**
 * Ownership by advisory lock on a real PostgreSQL: exclusive, given back on release and when
 * the lock session dies (the failover), reported by ownerOf, and regained after reconnecting.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/log.js";
import { LOCK_SESSION_PREFIX, PostgresOwnership } from "../../../src/cluster/postgres-ownership.js";
import { lockKeyOf } from "../../../src/cluster/lock-key.js";
import { createTestDatabase, query, type TestDatabase } from "../../support/postgres.js";

const P = "n6ZxmYiXF1mXoQ1M7X4zqfMkv2rQf2bq8QmYd4qmTuE";
const Q = "LbjUkGUm43wwERnB2NDGVabkwVNwkRyyp7ayB0TIDQk";

let db: TestDatabase;
const open: PostgresOwnership[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

function node(address: string, events: { onLost?: () => void; onUp?: () => void } = {}): PostgresOwnership {
  const ownership = new PostgresOwnership({
    url: db.url,
    nodeAddress: address,
    logger: silentLogger(),
    onLost: events.onLost ?? (() => undefined),
    ...(events.onUp ? { onUp: events.onUp } : {}),
    heartbeatMs: 200,
  });
  open.push(ownership);
  return ownership;
}

describe("ownership on PostgreSQL", () => {
  it("gives a process to one node at a time and says which", async () => {
    const a = node("10.0.0.1:50051");
    const b = node("10.0.0.2:50051");
    await Promise.all([a.start(), b.start()]);
    expect(await a.acquire(P)).toBe(true);
    expect(await a.acquire(P)).toBe(true); // again: acquisitions and releases pair up
    expect(await b.acquire(P)).toBe(false);
    expect(await b.acquire(Q)).toBe(true);
    expect(await b.ownerOf(P)).toBe("10.0.0.1:50051");
    expect(await a.ownerOf(Q)).toBe("10.0.0.2:50051");
    await a.release(P);
    expect(await b.ownerOf(P)).toBe("10.0.0.1:50051"); // still held once
    await a.release(P);
    expect(await b.ownerOf(P)).toBeUndefined();
    expect(await b.acquire(P)).toBe(true);
    expect(await a.acquire(P)).toBe(false);
  });

  it("loses every lock with its session, tells its node at once, and takes locks again once reconnected", async () => {
    let lost!: () => void;
    const wasLost = new Promise<void>((resolve) => (lost = resolve));
    const ups: (() => void)[] = [];
    const nextUp = () => new Promise<void>((resolve) => ups.push(resolve));
    const a = node("10.0.0.1:50051", { onLost: () => lost(), onUp: () => ups.shift()?.() });
    const b = node("10.0.0.2:50051");
    const firstUp = nextUp();
    await Promise.all([a.start(), b.start()]);
    await firstUp;
    expect(await a.acquire(P)).toBe(true);
    // Kill a's lock session from outside, as a crash or a cut network would.
    await query(db.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [
      LOCK_SESSION_PREFIX + "10.0.0.1:50051",
    ]);
    const backUp = nextUp();
    await wasLost;
    expect(await b.acquire(P)).toBe(true); // the lock died with a's session: the failover
    await backUp; // a reconnected by itself
    expect(await a.acquire(P)).toBe(false); // b owns it now
    await b.release(P);
    expect(await a.acquire(P)).toBe(true);
  });

  it("derives one 64-bit key per id, shown in pg_locks as classid and objid", () => {
    const { key, classid, objid } = lockKeyOf(P);
    expect(BigInt.asUintN(64, BigInt(key))).toBe((BigInt(classid) << 32n) | BigInt(objid));
    expect(lockKeyOf(Q).key).not.toBe(key);
    expect(lockKeyOf("not an id").key).toMatch(/^-?[0-9]+$/);
  });
});
