/**
 * `npm run bench`: procworker's figures, each beside a baseline measured in the same run on
 * the same machine, as a cost ratio (docs/benchmarks.md explains every figure and target).
 * The procworker server and the raw baselines each run in a process of their own; this
 * process is the client. Benchmarks are not tests: nothing here fails on timing. Prints a
 * table and writes bench/results/latest.json.
 *
 *   npm run bench                   every figure, then the PostgreSQL and cluster benchmarks
 *                                   (bench/postgres.ts, bench/cluster.ts, each in its own run)
 *   npm run bench -- --quick        a smoke run (fewer slots, streams and rounds; < 60 s;
 *                                   no PostgreSQL)
 *   npm run bench -- 1 5            only these figures (1..8)
 *   npm run bench -- --profile      also write the server's CPU profiles to bench/results/
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { awaitFigures } from "./figures/await.js";
import { broadcastFigures } from "./figures/broadcast.js";
import { catchupFigures } from "./figures/catchup.js";
import { deviceFigures } from "./figures/device.js";
import { idleFigures } from "./figures/idle.js";
import { liveFigures } from "./figures/live.js";
import type { BenchContext } from "./lib/context.js";
import { startBenchServer } from "./lib/procworker.js";
import { startRawBaselines } from "./lib/raw.js";
import { table, type Row } from "./lib/report.js";
import { now, settle } from "./lib/stats.js";
import { compileCounterWat } from "./lib/wasm.js";

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, "results");

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const profile = args.includes("--profile");
const only = new Set(args.filter((a) => /^[1-8]$/.test(a)).map(Number));
const wanted = (figure: number): boolean => only.size === 0 || only.has(figure);

const log = (text: string): void => console.log(text);
const started = now();
const elapsed = (): string => `${((now() - started) / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const timings: Record<string, number> = {};
  const loadAtStart = loadavg();
  log(
    `procworker bench${quick ? " --quick" : ""} — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load ${loadAtStart
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  await mkdir(RESULTS, { recursive: true });
  // The server runs the compiled code, as `npm start` does (bench/process/server.ts).
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: join(here, ".."), stdio: "inherit" });
  let module: Uint8Array | undefined;
  try {
    module = await compileCounterWat();
  } catch (error) {
    notes.push(`wasm@1.0 figures skipped: compiling the WAT counter failed: ${(error as Error).message}`);
  }
  const [pw, raw] = await Promise.all([startBenchServer(), startRawBaselines()]);
  const ctx: BenchContext = { pw, raw, module, quick, log, profileDir: profile ? RESULTS : undefined };

  /** Runs figure `n` (figures 1–3 share one run: `also` lists the others it measures). */
  const figure = async (n: number, name: string, run: () => Promise<Row[]>, also: number[] = []): Promise<void> => {
    if (!wanted(n) && !also.some(wanted)) return;
    log(`[${elapsed()}] ${n}. ${name} …`);
    const t0 = now();
    try {
      rows.push(...(await run()));
    } catch (error) {
      const text = `figure ${n} (${name}) skipped, it failed: ${(error as Error).stack ?? String(error)}`;
      notes.push(text);
      log(`  ${text.split("\n")[0]}`);
    }
    timings[String(n)] = Math.round(now() - t0);
    await settle(100);
  };

  try {
    await figure(1, "Catch-up (counter, wasm) and Compute stream", () => catchupFigures(ctx), [2, 3]);
    await figure(4, "Await of a stored slot, 64 in flight", () => awaitFigures(ctx));
    await figure(5, "Schedule → Subscribe, live slot", () => liveFigures(ctx));
    await figure(6, "Subscribers: server CPU per new slot", () => broadcastFigures(ctx));
    await figure(7, "Idle live workers: memory, and catch-up beside them", () => idleFigures(ctx));
    if (module !== undefined) {
      const m = module;
      await figure(8, "wasm@1.0 device alone", () => deviceFigures({ module: m, quick }));
    }
  } finally {
    await Promise.all([pw.close(), raw.close()]);
  }

  rows.sort((a, b) => a.id.localeCompare(b.id, "en", { numeric: true }));
  log("");
  log(table(rows));
  log("");
  log("cost × = procworker's cost / the baseline's (times, bytes: pw ÷ base; rates: base ÷ pw). Below 1: cheaper.");
  for (const note of notes) log(`NOTE: ${note.split("\n")[0]}`);
  const loadAtEnd = loadavg();
  log(
    `load at start ${loadAtStart.map((l) => l.toFixed(2)).join(" ")}, at end ${loadAtEnd.map((l) => l.toFixed(2)).join(" ")}`,
  );
  log(`total ${elapsed()}`);

  const file = join(RESULTS, quick ? "quick.json" : "latest.json");
  await writeFile(
    file,
    JSON.stringify(
      {
        when: new Date().toISOString(),
        quick,
        node: process.version,
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        loadavgAtStart: loadAtStart,
        loadavgAtEnd: loadAtEnd,
        totalSeconds: Math.round((now() - started) / 100) / 10,
        secondsPerFigure: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, v / 1000])),
        costMeans: "procworker cost / baseline cost (times, bytes: pw/base; rates: base/pw)",
        rows,
        notes,
      },
      (_, value: unknown) =>
        typeof value === "bigint"
          ? value.toString()
          : typeof value === "number"
            ? Math.round(value * 1000) / 1000
            : value,
      2,
    ) + "\n",
  );
  log(`wrote ${file}`);

  // The store and the cluster on PostgreSQL: their own benchmarks, each with its own
  // baselines (a PostgreSQL server, several nodes), run after this one as they are.
  if (!quick && only.size === 0) {
    for (const script of ["postgres.ts", "cluster.ts"]) {
      log("");
      const run = spawnSync(process.execPath, ["--import", "tsx", join(here, script)], { stdio: "inherit" });
      if (run.status !== 0) log(`NOTE: bench/${script} failed (exit ${run.status ?? run.signal})`);
    }
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
