/**
 * `npm run churn`: the churn's long run (the short one, 200 processes, is
 * test/integration/churn.test.ts). By default 1,000 processes (counter@1.0 and wasm@1.0
 * kv-wat, half each) go through a server whose max_worker_bytes is 128 KiB, so workers are
 * evicted and restored all the time, under a random mix of Spawn, Schedule, Await, Compute and
 * Subscribe streams cancelled part way, Stop (with and without snapshot), DryRun and
 * GetProcess. Every call must end with a status its situation allows, every result equal the
 * model's; afterwards nothing may be left open and the live workers must fit under the cap.
 * Prints a summary (the figures docs/reliability.md quotes); exits 1 on any problem.
 *
 *   npm run churn
 *   npm run churn -- --processes 300 --operations 3000 --concurrency 12
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compileKvWat } from "../examples/build.mjs";
import { defaultConfig } from "../src/core/config.js";
import { ProcworkerClient } from "../src/service/client.js";
import { startServer } from "../src/service/server.js";
import { churn, countingLogger } from "../test/support/churn/churn.js";
import { mib } from "../test/support/scrape.js";

const { values } = parseArgs({
  options: {
    processes: { type: "string", default: "1000" },
    operations: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "16" },
    "cap-bytes": { type: "string", default: String(128 * 1024) },
  },
});
const cap = Number(values["cap-bytes"]);
const dataDir = await mkdtemp(join(tmpdir(), "procworker-churn-"));
const counting = countingLogger();
const server = await startServer({
  config: defaultConfig({ host: "127.0.0.1", port: 0, dataDir, wasmThreads: 2, maxWorkerBytes: cap }),
  logger: counting.logger,
});
const client = new ProcworkerClient(`127.0.0.1:${server.port}`);
console.log(
  `churn: ${values.processes} processes, ${values.operations} operations, ${values.concurrency} at once, ` +
    `max_worker_bytes ${cap}, data in ${dataDir}`,
);
const problems: string[] = [];
/** True if `promise` resolves within `ms`. */
const within = async (promise: Promise<void>, ms: number): Promise<boolean> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
};
const started = performance.now();
try {
  const report = await churn(client, {
    processes: Number(values.processes),
    operations: Number(values.operations),
    concurrency: Number(values.concurrency),
    kvModule: await compileKvWat(),
  });
  const seconds = (performance.now() - started) / 1000;
  problems.push(...report.problems);
  // Once the last call has ended on the server, nothing is left attached to the engine, and
  // the live workers (all idle now) fit under the cap.
  const attached = (): string => JSON.stringify(server.engine.attached());
  const clean = (): boolean => attached() === JSON.stringify({ waiters: 0, streams: 0, hubs: 0 });
  if (!(await within(server.engine.changes.until(clean), 30_000))) problems.push(`left attached: ${attached()}`);
  if (server.inFlight.size !== 0) problems.push(`calls still in flight: ${server.inFlight.size}`);
  const underCap = (): boolean => server.engine.workerTotals().stateBytes <= cap;
  if (!(await within(server.engine.changes.until(underCap), 30_000))) {
    problems.push(`live workers over the cap: ${server.engine.workerTotals().stateBytes} B`);
  }
  const totals = server.engine.workerTotals();
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const outcomes = [...report.outcomes]
    .sort()
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
  console.log(`
## churn summary

${report.processes} processes, ${report.operations} operations in ${seconds.toFixed(0)} s; ${counting.events.get("evicting") ?? 0} evictions
calls: ${outcomes}
results checked against the model: ${report.resultsChecked} (every slot of every process, and every dry run)
afterwards: nothing attached (waiters, streams, hubs) and no call in flight; live workers' state ${totals.stateBytes} B (cap ${cap} B)
peak RSS (client and server in this process): ${mib(peakRss)}
problems: ${problems.length}`);
} catch (error) {
  problems.push(`the churn failed: ${error instanceof Error ? error.stack : String(error)}`);
} finally {
  client.close();
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
if (problems.length > 0) {
  console.log(`FAILED:\n${problems.map((p) => `- ${p}`).join("\n")}`);
  process.exitCode = 1;
} else {
  console.log("churn: every result as the model says, nothing left behind");
}
