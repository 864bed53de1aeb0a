/**
 * The crash soak, short (`npm run soak` runs ≥ 100 kills): a server in a child process is
 * SIGKILLed 5 times at random moments under concurrent Schedule, Subscribe, Compute and Await
 * on counter and kv processes, and restarted on the same LMDB data dir. After every restart:
 * every acknowledged message at its slot, no gaps, every result equal to the model's and to
 * what clients saw before the kill (test/support/soak/).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { compileKvWat } from "../../examples/build.mjs";
import { crashSoak } from "../support/soak/crash-soak.js";

let dataDir: string;
let kvModule: Uint8Array;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "procworker-soak-"));
  kvModule = await compileKvWat();
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

it("loses nothing acknowledged and computes the same results across 5 SIGKILLs under load", async () => {
  const report = await crashSoak({ kills: 5, dataDir, kvModule, counters: 2, kvs: 2, maxEvents: 120 });
  console.log(
    `crash soak: ${report.kills} kills in ${report.seconds.toFixed(1)} s, ${report.acknowledged} messages acknowledged, ` +
      `${report.slots} slots verified, ${report.seenCompared} results seen before a kill compared, ` +
      `unanswered schedules kept ${report.unansweredKept} / lost ${report.unansweredLost}, ` +
      `statuses at the kills ${JSON.stringify(Object.fromEntries(report.statuses.atKill))}, ` +
      `before ${JSON.stringify(Object.fromEntries(report.statuses.before))}`,
  );
  expect(report.problems).toEqual([]);
  expect(report.kills).toBe(5);
  expect(report.finalExit).toBe(0);
  // The load did happen: messages were acknowledged and results seen before kills.
  expect(report.acknowledged).toBeGreaterThan(0);
  expect(report.slots).toBeGreaterThanOrEqual(report.acknowledged);
}, 120_000);
