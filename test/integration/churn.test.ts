/**
 * Churn: 200 processes through a 128 KiB worker cap (`npm run churn` runs 1,000),
 * so workers are evicted and restored all the time, under concurrent Schedule, Await, Compute
 * and Subscribe streams cancelled part way, Stop, DryRun and GetProcess. Every call ends with
 * a status its situation allows, every result equals the model's (test/support/churn/), the
 * cap holds once all is idle, and nothing leaks (the test server's close checks it).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { compileKvWat } from "../../examples/build.mjs";
import { churn, countingLogger } from "../support/churn/churn.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { until } from "../support/until.js";

const CAP = 128 * 1024;

let s: TestServer;
let kvModule: Uint8Array;
let events: Map<string, number>;
beforeAll(async () => {
  kvModule = await compileKvWat();
  const counting = countingLogger();
  events = counting.events;
  // A Compute the client cancels as it opens may never be reported cancelled to the server
  // (grpc-js does not always tell a server of a client's cancel); the server then streams it
  // out to a client that no longer reads, and the graceful shutdown waits out
  // shutdown_timeout_ms for that connection: a short one keeps the close quick (the leak
  // checks run before it).
  s = await startTestServer({ maxWorkerBytes: CAP, shutdownTimeoutMs: 500 }, { logger: counting.logger });
});
afterAll(async () => {
  await s.close();
});

it("keeps every result right while 200 processes churn through a tiny worker cap", async () => {
  const report = await churn(s.client, { processes: 200, operations: 1000, concurrency: 12, kvModule });
  console.log(
    `churn: ${report.processes} processes, ${report.operations} operations, ${report.resultsChecked} results checked, ` +
      `${events.get("evicting") ?? 0} evictions; ${JSON.stringify(Object.fromEntries([...report.outcomes].sort()))}`,
  );
  expect(report.problems).toEqual([]);
  expect(report.processes).toBe(200);
  expect(report.operations).toBe(1000);
  // The churn did churn: workers were evicted, streams cancelled, workers stopped.
  expect(events.get("evicting") ?? 0).toBeGreaterThan(0);
  expect(report.outcomes.get("compute CANCELLED") ?? 0).toBeGreaterThan(0);
  expect(report.outcomes.get("subscribe CANCELLED") ?? 0).toBeGreaterThan(0);
  expect(report.outcomes.get("stop OK") ?? 0).toBeGreaterThan(0);
  // Once everything is idle, the live workers fit under the cap.
  await until(s.server.engine, () => s.server.engine.workerTotals().stateBytes <= CAP, "workers under the cap");
}, 120_000);
