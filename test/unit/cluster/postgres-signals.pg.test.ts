/**
 * Signals on a real PostgreSQL: what one node announces reaches the others (not itself),
 * coalesced per turn of the event loop; a listener whose session was lost resyncs when it
 * is back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SignalListener } from "../../../src/core/cluster.js";
import { silentLogger } from "../../../src/core/log.js";
import { PostgresSignals } from "../../../src/cluster/postgres-signals.js";
import { createTestDatabase, query, type TestDatabase } from "../../support/postgres.js";

const P = "n6ZxmYiXF1mXoQ1M7X4zqfMkv2rQf2bq8QmYd4qmTuE";
const Q = "LbjUkGUm43wwERnB2NDGVabkwVNwkRyyp7ayB0TIDQk";

let db: TestDatabase;
const open: PostgresSignals[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** A listener that records what it hears and lets a test wait for the n-th signal. */
function recorder() {
  const heard: string[] = [];
  const waits: { n: number; resolve: () => void }[] = [];
  const hear = (line: string): void => {
    heard.push(line);
    for (const w of waits.filter((w) => heard.length >= w.n)) w.resolve();
  };
  const listener: SignalListener = {
    scheduledElsewhere: (p, latest) => hear(`scheduled ${p === P ? "P" : "Q"} ${latest}`),
    computedElsewhere: (p, to) => hear(`computed ${p === P ? "P" : "Q"} ${to}`),
    resync: () => hear("resync"),
  };
  const heardCount = (n: number) =>
    heard.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waits.push({ n, resolve }));
  return { heard, listener, heardCount };
}

function node(address: string): PostgresSignals {
  const signals = new PostgresSignals({ url: db.url, nodeAddress: address, logger: silentLogger(), heartbeatMs: 200 });
  open.push(signals);
  return signals;
}

describe("signals on PostgreSQL", () => {
  it("reach every other node, coalesced per turn, never the sender", async () => {
    const a = node("a:1");
    const b = node("b:1");
    const c = node("c:1");
    const [ra, rb, rc] = [recorder(), recorder(), recorder()];
    await Promise.all([a.start(ra.listener), b.start(rb.listener), c.start(rc.listener)]);
    a.scheduled(P, 3n);
    a.computed(P, 0n, 1n);
    a.computed(P, 2n, 3n); // same turn: only the highest slot goes out
    a.computed(Q, 0n, 2n ** 64n - 1n);
    await Promise.all([rb.heardCount(3), rc.heardCount(3)]);
    for (const r of [rb, rc]) {
      expect(r.heard.sort()).toEqual(["computed P 3", "computed Q 18446744073709551615", "scheduled P 3"]);
    }
    b.scheduled(Q, 7n);
    await Promise.all([ra.heardCount(1), rc.heardCount(4)]);
    expect(ra.heard).toEqual(["scheduled Q 7"]); // a heard b, and never itself
  });

  it("a listener whose session was lost resyncs from the store once it is back", async () => {
    const a = node("a:2");
    const b = node("b:2");
    const [ra, rb] = [recorder(), recorder()];
    await Promise.all([a.start(ra.listener), b.start(rb.listener)]);
    await query(db.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [
      "procworker signals b:2",
    ]);
    await rb.heardCount(1);
    expect(rb.heard).toEqual(["resync"]);
    a.computed(P, 0n, 5n);
    await rb.heardCount(2);
    expect(rb.heard).toEqual(["resync", "computed P 5"]);
  });
});
