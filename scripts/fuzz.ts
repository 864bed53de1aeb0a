/**
 * `npm run fuzz`: the wire fuzzer's long run against a server in a child process (so that a
 * crash, a hang or memory growth is the server's alone): by default 100,000 typed, raw and
 * mutated requests over every method. It samples the server's resident memory as it goes,
 * checks afterwards that health and a known-good call still work, that no call or stream is
 * left open on the server, that the server's own metrics saw no INTERNAL or UNKNOWN, and that
 * it still shuts down cleanly; then prints a summary (the table docs/reliability.md quotes).
 * Exits 1 on any finding.
 *
 *   npm run fuzz
 *   npm run fuzz -- --inputs 20000 --seed 42 --concurrency 32
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compileKvWat } from "../examples/build.mjs";
import { ProcworkerClient } from "../src/service/client.js";
import { startChildServer } from "../test/support/child-server.js";
import { generateInputs } from "../test/support/fuzz/inputs.js";
import { afterRun, fuzzContext, prepareTargets, runFuzz } from "../test/support/fuzz/run.js";
import { FUZZ_LIMITS, fuzzServerEnv } from "../test/support/fuzz/server-options.js";
import { freePort, mib, residentMemory, scrapeMetrics, sumOf } from "../test/support/scrape.js";

const { values } = parseArgs({
  options: {
    inputs: { type: "string", default: "100000" },
    seed: { type: "string", default: String(Date.now() % 2 ** 31) },
    concurrency: { type: "string", default: "32" },
    connections: { type: "string", default: "8" },
  },
});
const inputs = Number(values.inputs);
/** The deadline of a call that must not wait (reaching it means the server hung). */
const NO_WAIT_DEADLINE_MS = 30_000;
/** How much the server's own memory may grow past its first-half peak (allocator slack). */
const RSS_GROWTH_LIMIT = 64 * 2 ** 20;
const seed = Number(values.seed);
const problems: string[] = [];

interface MemorySample {
  done: number;
  rss: number;
  anon: number;
  state: number;
  /** V8's heap in use (garbage included) and its external memory (Buffers and such). */
  heap: number;
  external: number;
}

const dataDir = await mkdtemp(join(tmpdir(), "procworker-fuzz-"));
const metricsPort = await freePort();
const server = await startChildServer(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve"], {
  PROCWORKER_DATA_DIR: dataDir,
  PROCWORKER_METRICS_PORT: String(metricsPort),
  ...fuzzServerEnv(),
});
const pid = server.child.pid as number;
let exited: string | undefined;
server.child.once("exit", (code, signal) => (exited = `exited with ${code ?? signal}`));
const address = `127.0.0.1:${server.port}`;
console.log(`fuzz: ${inputs} inputs, seed ${seed}, server pid ${pid} on ${address}, data in ${dataDir}`);

const started = performance.now();
try {
  const kvModule = await compileKvWat();
  const client = new ProcworkerClient(address);
  const targets = await prepareTargets(client, kvModule);
  client.close();
  const ctx = fuzzContext(targets, kvModule, FUZZ_LIMITS, NO_WAIT_DEADLINE_MS);
  /** The server's memory now: resident, anonymous (heaps, not LMDB's file mapping), and the
   * live workers' state (process state the fuzzer stored: kv values, up to max_worker_bytes). */
  const sample = async (done: number): Promise<MemorySample> => {
    const [{ rss, anon }, metrics] = await Promise.all([residentMemory(pid), scrapeMetrics(metricsPort)]);
    return {
      done,
      rss,
      anon,
      state: sumOf(metrics, "procworker_worker_state_bytes"),
      heap: sumOf(metrics, "procworker_nodejs_heap_size_used_bytes"),
      external: sumOf(metrics, "procworker_nodejs_external_memory_bytes"),
    };
  };
  const baseline = await residentMemory(pid);
  const samples: MemorySample[] = [await sample(0)];

  const tally = await runFuzz({
    address,
    inputs: generateInputs(ctx, inputs, seed),
    concurrency: Number(values.concurrency),
    connections: Number(values.connections),
    progressEvery: Math.max(1000, Math.floor(inputs / 20)),
    onProgress: async (done) => {
      if (exited !== undefined) throw new Error(`the server ${exited} after ${done} inputs`);
      const now = await sample(done);
      samples.push(now);
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `  ${done} inputs, ${(done / seconds).toFixed(0)}/s, server RSS ${mib(now.rss)} ` +
          `(anonymous ${mib(now.anon)}, of which workers' state ${mib(now.state)})`,
      );
    },
  });
  if (exited !== undefined) problems.push(`the server ${exited}`);
  const seconds = (performance.now() - started) / 1000;

  const after = await afterRun(address, targets.sentinel);
  if (after.health.some((h) => h !== "SERVING")) problems.push(`health after the run: ${after.health.join(", ")}`);
  if (after.sentinelTotal !== "101") problems.push(`known-good call: Total ${after.sentinelTotal}, expected 101`);

  // Nothing left open on the server once every call has ended. The gauges follow the calls'
  // ends on the server, a moment after the client saw them; and a stream the client
  // cancelled as it opened may never be reported cancelled to the server (grpc-js does not
  // always tell a server of a client's cancel): it is served until its own deadline, at most
  // NO_WAIT_DEADLINE_MS.
  let metrics = await scrapeMetrics(metricsPort);
  const openAfterRun = sumOf(metrics, "procworker_open_streams") + sumOf(metrics, "procworker_waiters");
  const settledBy = performance.now() + NO_WAIT_DEADLINE_MS + 5_000;
  while (
    performance.now() < settledBy &&
    sumOf(metrics, "procworker_open_streams") + sumOf(metrics, "procworker_waiters") > 0
  ) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    metrics = await scrapeMetrics(metricsPort);
  }
  const open = { streams: sumOf(metrics, "procworker_open_streams"), waiters: sumOf(metrics, "procworker_waiters") };
  if (open.streams !== 0 || open.waiters !== 0) problems.push(`left open: ${JSON.stringify(open)}`);
  const serverInternal = sumOf(metrics, "procworker_rpc_total", 'code="INTERNAL"');
  const serverUnknown = sumOf(metrics, "procworker_rpc_total", 'code="UNKNOWN"');
  if (serverInternal + serverUnknown > 0) {
    problems.push(`the server counted INTERNAL ${serverInternal}, UNKNOWN ${serverUnknown}`);
  }
  const memory = await residentMemory(pid);
  // Bounded memory: what the server holds for itself (anonymous memory less the workers'
  // state, which is the processes' own data) stops growing once its caches have filled: at
  // the end it is at most RSS_GROWTH_LIMIT above its peak in the first half of the run.
  const held = (s: MemorySample): number => s.anon - s.state;
  const firstHalfPeak = Math.max(...samples.filter((s) => s.done <= inputs / 2).map(held));
  const last = samples[samples.length - 1] as MemorySample;
  const growth = held(last) - firstHalfPeak;
  if (growth > RSS_GROWTH_LIMIT) {
    problems.push(
      `the server's own memory grew ${mib(growth)} in the second half of the run (limit ${mib(RSS_GROWTH_LIMIT)})`,
    );
  }
  const heap = sumOf(metrics, "procworker_nodejs_heap_size_used_bytes");
  const floods = sumOf(metrics, "procworker_reset_floods_total");
  const drained = sumOf(metrics, "procworker_connections_drained_total");

  for (const f of tally.findings.slice(0, 20)) problems.push(`undocumented status: ${JSON.stringify(f)}`);
  if (tally.findings.length > 20) problems.push(`… ${tally.findings.length - 20} more undocumented statuses`);

  const exitCode = await server.signalGroup("SIGTERM");
  exited = `exited with ${exitCode}`;
  if (exitCode !== 0) problems.push(`graceful shutdown after the run exited ${exitCode}`);

  const kinds = [...tally.kinds()].map(([k, n]) => `${k} ${n}`).join(", ");
  const statuses = [...tally.statuses()]
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
  console.log(`
## fuzz summary (seed ${seed})

${tally.calls} inputs in ${seconds.toFixed(0)} s (${(tally.calls / seconds).toFixed(0)}/s): ${kinds}
statuses: ${statuses}
undocumented statuses: ${tally.findings.length}; server-side INTERNAL ${serverInternal}, UNKNOWN ${serverUnknown}
server memory: RSS ${mib(baseline.rss)} before, ${mib(memory.rss)} after, peak ${mib(memory.peak)}; heap used ${mib(heap)} at the end
server's own memory (anonymous less workers' state) at the end: ${mib(held(last))}, ${mib(growth)} past its first-half peak (limit ${mib(RSS_GROWTH_LIMIT)})
by inputs done, RSS / anonymous / workers' state / V8 heap used / external: ${samples.map((s) => `${s.done}: ${mib(s.rss)} / ${mib(s.anon)} / ${mib(s.state)} / ${mib(s.heap)} / ${mib(s.external)}`).join(", ")}
after the run: health ${after.health.join("/")}, known-good call Total ${after.sentinelTotal}; streams and waiters open when the last call ended ${openAfterRun}, once their deadlines passed ${open.streams + open.waiters}; graceful exit ${exitCode}
connections drained ${drained}, reset floods ${floods}

${tally.table()}
`);
} catch (error) {
  problems.push(`run failed: ${error instanceof Error ? error.stack : String(error)}`);
  if (exited === undefined) await server.signalGroup("SIGKILL");
} finally {
  await rm(dataDir, { recursive: true, force: true });
}

if (problems.length > 0) {
  console.log(`FAILED:\n${problems.map((p) => `- ${p}`).join("\n")}`);
  if (server.stderr.length > 0) console.log(`server stderr (last 20 lines):\n${server.stderr.slice(-20).join("\n")}`);
  process.exitCode = 1;
} else {
  console.log("fuzz: no findings");
}
