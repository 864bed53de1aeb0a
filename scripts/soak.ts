/**
 * `npm run soak`: the crash soak's long run (the short one is test/integration/crash-soak.test.ts).
 * A server in a child process on one LMDB data dir is SIGKILLed, by default 100 times, at a
 * random moment under concurrent Schedule, Subscribe, Compute and Await on counter@1.0 and
 * wasm@1.0 (examples/kv-wat) processes, and restarted on the same data dir. After every
 * restart each process is checked: every acknowledged message at its slot, no gaps, every
 * result equal to the model's and to what clients saw before the kill; at the end the whole
 * log and every result once more, and a graceful shutdown. Prints a summary (the figures
 * docs/reliability.md quotes) and exits 1 on any problem.
 *
 *   npm run soak
 *   npm run soak -- --kills 20 --counters 2 --kvs 2 --max-events 100
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compileKvWat } from "../examples/build.mjs";
import { crashSoak } from "../test/support/soak/crash-soak.js";
import { mib } from "../test/support/scrape.js";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "100" },
    counters: { type: "string", default: "3" },
    kvs: { type: "string", default: "3" },
    "max-events": { type: "string", default: "200" },
  },
});
const kills = Number(values.kills);
const dataDir = await mkdtemp(join(tmpdir(), "procworker-soak-"));
console.log(`soak: ${kills} kills, ${values.counters} counter and ${values.kvs} kv processes, data in ${dataDir}`);

const counts = (m: Map<string, number>): string =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n}`)
    .join(", ") || "none";

try {
  const report = await crashSoak({
    kills,
    dataDir,
    kvModule: await compileKvWat(),
    counters: Number(values.counters),
    kvs: Number(values.kvs),
    maxEvents: Number(values["max-events"]),
    log: (line) => console.log(`  ${line}`),
  });
  console.log(`
## soak summary

kills survived: ${report.kills} of ${kills} (SIGKILL to the server's process group, restart on the same data dir), ${report.seconds.toFixed(0)} s
messages acknowledged: ${report.acknowledged}; slots verified: ${report.slots} (log entry and result, against the model)
results seen by clients before a kill and compared after the restart: ${report.seenCompared}
Schedules the kill cut before their answer: ${report.unansweredKept} messages found in the log after all, ${report.unansweredLost} not (neither was acknowledged)
statuses before the kills: ${counts(report.statuses.before)}
statuses of the calls the kills cut: ${counts(report.statuses.atKill)}
server peak RSS (highest of all incarnations): ${mib(report.peakRss)}
final graceful shutdown exit code: ${report.finalExit}
problems: ${report.problems.length}`);
  if (report.problems.length > 0) {
    console.log(`FAILED:\n${report.problems.map((p) => `- ${p}`).join("\n")}`);
    process.exitCode = 1;
  } else {
    console.log("soak: nothing lost, every result as the model says");
  }
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
