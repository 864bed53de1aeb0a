/**
 * The wire fuzzer, short run (`npm run fuzz` is the long one): typed, raw and mutated
 * requests for every method against one live server. Every call ends with a status its
 * method documents (never INTERNAL or UNKNOWN) within its deadline, the server still answers
 * health and a known-good call afterwards, its heap stays bounded, and nothing leaks (the
 * test server's close checks waiters, streams and calls). FUZZ_SEED=n replays a run.
 */
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { afterAll, beforeAll, expect, it } from "vitest";
import { compileKvWat } from "../../examples/build.mjs";
import { FUZZ_METHODS } from "../support/fuzz/methods.js";
import { generateInputs, INPUT_KINDS } from "../support/fuzz/inputs.js";
import { afterRun, fuzzContext, prepareTargets, runFuzz } from "../support/fuzz/run.js";
import { FUZZ_LIMITS, FUZZ_SERVER } from "../support/fuzz/server-options.js";
import { startTestServer, type TestServer } from "../support/server.js";

const INPUTS = 600;
const SEED = Number(process.env["FUZZ_SEED"] ?? Date.now() % 2 ** 31);

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapAfterGc = (): number => {
  gc();
  return process.memoryUsage().heapUsed;
};

let s: TestServer;
let kvModule: Uint8Array;
beforeAll(async () => {
  kvModule = await compileKvWat();
  s = await startTestServer(FUZZ_SERVER);
});
afterAll(async () => {
  await s.close();
});

it(`answers ${INPUTS} fuzzed requests over every method with documented statuses, and stays well (seed ${SEED})`, async () => {
  const targets = await prepareTargets(s.client, kvModule);
  const ctx = fuzzContext(targets, kvModule, FUZZ_LIMITS);
  const heapBefore = heapAfterGc();

  const tally = await runFuzz({
    address: s.address,
    inputs: generateInputs(ctx, INPUTS, SEED),
    concurrency: 8,
    connections: 4,
  });

  expect(tally.findings, `seed ${SEED}:\n${tally.table()}`).toEqual([]);
  expect(tally.calls).toBe(INPUTS);
  // Every method got inputs, of every kind (600 inputs over 16 methods and 3 kinds).
  expect(new Set([...tally.counts.keys()].map((key) => key.split(" ")[0]))).toEqual(
    new Set(FUZZ_METHODS.map((m) => m.name)),
  );
  expect([...tally.kinds().keys()].sort()).toEqual([...INPUT_KINDS].sort());
  expect(tally.statuses().has("INTERNAL")).toBe(false);
  expect(tally.statuses().has("UNKNOWN")).toBe(false);

  // Still well: health SERVING, and the sentinel (which no input names) adds up.
  expect(await afterRun(s.address, targets.sentinel)).toEqual({ health: ["SERVING", "SERVING"], sentinelTotal: "101" });
  // Bounded memory: what the run left on the heap is small next to what it sent (caches are
  // a few MiB in this configuration).
  const grown = heapAfterGc() - heapBefore;
  console.log(
    `fuzz (seed ${SEED}): ${tally.calls} inputs, heap ${(grown / 2 ** 20).toFixed(1)} MiB after GC\n${tally.table()}`,
  );
  expect(grown).toBeLessThan(48 * 2 ** 20);
}, 120_000);
