/**
 * Figures 7 and 1c: what live idle workers cost.
 *   7a. Heap per live counter@1.0 worker: the server's heap after a full GC, before and after
 *       10,000 processes (1,000 with --quick) each got a worker that computed slot 0 and stays
 *       idle; against the 4 KiB bound of the target.
 *   7b. The same for live wasm@1.0 workers (the WAT counter: one 64 KiB page each), main
 *       thread heap only: a live wasm worker should hold its memory (on its thread) and
 *       nothing else.
 *   1c. The catch-up of figure 1 (CPU per slot of the server) with those idle workers live,
 *       against the same catch-up just before they existed: live workers must not make a
 *       batch cost more (memory accounting is O(1) per batch).
 */
import type { BenchContext } from "../lib/context.js";
import { spawnCounter, spawnWasm } from "../lib/procworker.js";
import { row, type Row } from "../lib/report.js";
import { median, settle } from "../lib/stats.js";
import { catchUp } from "./catchup.js";

const IN_FLIGHT = 64;

/** Runs `fn(i)` for i in 0..count−1 with IN_FLIGHT in flight. */
async function each(count: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, count) }, lane));
}

interface Engine {
  workers: number;
}

async function heapUsed(ctx: BenchContext): Promise<number> {
  return (await ctx.pw.child.call<NodeJS.MemoryUsage>("heap")).heapUsed;
}

export async function idleFigures(ctx: BenchContext): Promise<Row[]> {
  const workers = ctx.quick ? 1_000 : 10_000;
  const wasmWorkers = ctx.quick ? 50 : 200;
  const slots = ctx.quick ? 5_000 : 20_000;
  const catchUps = ctx.quick ? 1 : 3;
  const cpuPerSlot = async (tag: string): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < catchUps; i++)
      out.push((await catchUp(ctx, "counter", slots, `i${tag}${i}`)).cpu.processUs / slots);
    return out;
  };
  await catchUp(ctx, "counter", Math.min(slots, 3_000), "i-warm");
  const without = await cpuPerSlot("a");

  const workersBefore = (await ctx.pw.child.call<Engine>("engine")).workers;
  const heap0 = await heapUsed(ctx);
  const ids: string[] = [];
  await each(workers, async (i) => void ids.push(await spawnCounter(ctx.pw.client, `idle-${i}`)));
  await each(workers, (i) => ctx.pw.client.await({ processId: ids[i] as string, slot: 0n }, { timeoutMs: 120_000 }));
  await settle(200);
  const live = (await ctx.pw.child.call<Engine>("engine")).workers - workersBefore;
  const heap1 = await heapUsed(ctx);
  if (live < workers) ctx.log(`  note: only ${live} of ${workers} workers stayed live`);
  const with_ = await cpuPerSlot("b");

  let wasmBytes: number | undefined;
  if (ctx.module !== undefined) {
    const module = ctx.module;
    const before = await heapUsed(ctx);
    const wasmIds: string[] = [];
    await each(wasmWorkers, async (i) => void wasmIds.push(await spawnWasm(ctx.pw.client, module, `idle-w${i}`)));
    await each(wasmWorkers, (i) =>
      ctx.pw.client.await({ processId: wasmIds[i] as string, slot: 0n }, { timeoutMs: 120_000 }),
    );
    await settle(200);
    wasmBytes = ((await heapUsed(ctx)) - before) / wasmWorkers;
  }
  const perWorker = (heap1 - heap0) / live;
  const rows: Row[] = [
    row({
      id: "1c",
      figure: `Catch-up CPU per slot with ${workers / 1000}k idle live workers`,
      unit: "us",
      procworker: median(with_),
      baseline: median(without),
      baselineIs: "the same catch-up before they existed",
      target: { maxCost: 1.1 },
      detail: { workers: live, without, with: with_ },
    }),
    row({
      id: "7a",
      figure: "Heap per live counter@1.0 worker (idle)",
      unit: "B",
      procworker: perWorker,
      baseline: 4096,
      baselineIs: "the 4 KiB bound",
      target: { maxCost: 1 },
      detail: { workers: live, heapBefore: heap0, heapAfter: heap1 },
    }),
  ];
  if (wasmBytes !== undefined) {
    rows.push(
      row({
        id: "7b",
        figure: "Main-thread heap per live wasm@1.0 worker (idle)",
        unit: "B",
        procworker: wasmBytes,
        baseline: 4096,
        baselineIs: "the 4 KiB bound (its memory lives on its thread)",
        target: { maxCost: 1 },
        detail: { workers: wasmWorkers },
      }),
    );
  }
  return rows;
}
