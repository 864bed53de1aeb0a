/**
 * `npm run bench`: procworker's figures, each beside a baseline measured in the same run on
 * the same machine, as a cost ratio (docs/benchmarks.md explains every figure). Benchmarks
 * are not tests: nothing here fails on timing. Prints a table and writes
 * bench/results/latest.json.
 *
 *   npm run bench                 all figures
 *   npm run bench -- 1 3 5        only these figures (1..6)
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { subscribeBroadcast } from "./figures/broadcast.js";
import { computeBacklog } from "./figures/compute.js";
import { awaitLatency, scheduleThroughput, warmNextSlot } from "./figures/unary.js";
import { wasmBacklog, wasmDevice, wasmSnapshot } from "./figures/wasm.js";
import { warmWasmNextSlot } from "./figures/warm-wasm.js";
import { startEchoServer } from "./lib/echo.js";
import { durablePut, openRawLmdb } from "./lib/lmdb.js";
import { startBenchServer } from "./lib/procworker.js";
import { table, type Row } from "./lib/report.js";
import { now, settle } from "./lib/stats.js";
import { compileCounterWat } from "./lib/wasm.js";

/** What EchoDurable writes: about one stored schedule entry. */
const DURABLE_VALUE = Buffer.alloc(128, 3);
const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, "results", "latest.json");

const only = new Set(process.argv.slice(2).filter((a) => /^[1-6]$/.test(a)));
const wanted = (figure: number): boolean => only.size === 0 || only.has(String(figure));

const log = (text: string): void => console.log(text);
const started = now();
const elapsed = (): string => `${((now() - started) / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const timings: Record<string, number> = {};
  log(
    `procworker bench — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );

  const pw = await startBenchServer();
  const lmdb = await openRawLmdb();
  const echo = await startEchoServer(() => durablePut(lmdb, DURABLE_VALUE));
  const ctx = { pw, echo, lmdb, log };

  const figure = async (n: number, name: string, run: () => Promise<Row[]>, key = String(n)): Promise<void> => {
    if (!wanted(n)) return;
    log(`[${elapsed()}] ${key}. ${name} …`);
    const t0 = now();
    try {
      rows.push(...(await run()));
    } catch (error) {
      const text = `figure ${key} (${name}) skipped, it failed: ${(error as Error).stack ?? String(error)}`;
      notes.push(text);
      log(`  ${text.split("\n")[0]}`);
    }
    timings[key] = Math.round(now() - t0);
    await settle(100);
  };

  try {
    await figure(1, "Await latency", () => awaitLatency(ctx));
    await figure(2, "Schedule throughput", () => scheduleThroughput(ctx));
    await figure(3, "Compute backlog", () => computeBacklog(ctx));
    await figure(4, "Warm next slot", () => warmNextSlot(ctx));
    await withTimeout(
      figure(4, "Warm next slot, wasm", () => warmWasmNextSlot(ctx), "4d"),
      90_000,
      "figure 4d",
      notes,
    );
    await figure(5, "Subscribe broadcast", () => subscribeBroadcast(ctx));
    if (wanted(6)) {
      // last: the wasm device may still be unfinished; a failure here only skips these rows
      let module: Uint8Array | undefined;
      try {
        module = await compileCounterWat();
      } catch (error) {
        notes.push(`figure 6 (wasm@1.0) skipped: compiling the WAT counter failed: ${(error as Error).message}`);
      }
      if (module) {
        const m = module;
        await withTimeout(
          figure(6, "wasm@1.0 backlog", () => wasmBacklog({ pw, module: m }), "6a-b"),
          60_000,
          "figure 6a-b",
          notes,
        );
        await withTimeout(
          figure(6, "wasm@1.0 device alone", () => wasmDevice({ module: m }), "6f-g"),
          60_000,
          "figure 6f-g",
          notes,
        );
        await withTimeout(
          figure(6, "wasm@1.0 64 MiB snapshot + restore", () => wasmSnapshot({ pw, module: m, lmdb }), "6c-e"),
          60_000,
          "figure 6c-e",
          notes,
        );
      }
    }
  } finally {
    await echo.close();
    await lmdb.close();
    await withTimeout(pw.close(), 20_000, "server close", notes);
  }

  log("");
  log(table(rows));
  log("");
  log(
    "cost × = procworker's cost / the baseline's (times: pw ÷ base; rates: base ÷ pw). Below 1: procworker is cheaper.",
  );
  for (const note of notes) log(`NOTE: ${note.split("\n")[0]}`);
  log(`total ${elapsed()}`);

  await mkdir(dirname(RESULTS), { recursive: true });
  await writeFile(
    RESULTS,
    JSON.stringify(
      {
        when: new Date().toISOString(),
        node: process.version,
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        loadavgAtEnd: loadavg(),
        totalSeconds: Math.round((now() - started) / 100) / 10,
        secondsPerFigure: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, v / 1000])),
        costMeans: "procworker cost / baseline cost (times: pw/base; rates: base/pw)",
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
  log(`wrote ${RESULTS}`);
}

/** Waits for `work` at most `ms`; on timeout records a note and moves on. */
async function withTimeout(work: Promise<unknown>, ms: number, what: string, notes: string[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
  const outcome = await Promise.race([work.then(() => "ok" as const), timedOut]);
  clearTimeout(timer);
  if (outcome === "timeout") notes.push(`${what} did not finish within ${ms / 1000} s and was abandoned`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
