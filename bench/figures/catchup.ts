/**
 * Figures 1–3: computing a backlog.
 *   1. Catch-up of counter@1.0: one Await of slot N of a fresh process with N scheduled
 *      slots (scheduling untimed). Baseline: the raw work at the same commit size — read the
 *      stored schedule values, step counter@1.0's device, write one result value per slot,
 *      one durable commit per DEFAULT_BATCH_SLOTS, each awaited (bench/process/raw.ts).
 *   2. The same catch-up on wasm@1.0 (the WAT counter), against the same raw loop stepping the
 *      module's pw_handle on the raw process's main thread, and against figure 1 (what the
 *      wasm device adds to the engine's per-slot cost).
 *   3. A Compute stream of N counter@1.0 slots, read by the frame reader (lib/frame-reader.ts:
 *      the server's cost, not a client's), against the catch-up of figure 1 (the stream adds
 *      encoding and writing, not a second pipeline), and against raw grpc-js streaming N
 *      pre-encoded messages of the same size (what any stream of one result per message
 *      costs). 3g/3h read both streams with a grpc-js client instead: what a Node client
 *      waits for, set mostly by that client's own cost per message. 3i/3j: a new subscriber
 *      of that process once computed (Subscribe from slot 0, every result read back from the
 *      store), against the raw stream and against computing the results.
 * Each round measures everything back to back; wall time per slot and the CPU time of the
 * server's (or the raw) process per slot.
 */
import { availableParallelism } from "node:os";
import { message } from "../../src/core/message.js";
import { laneOf } from "../../src/device/wasm/pool.js";
import { encodeResult } from "../../src/store/codec.js";
import { ComputeRequest, SubscribeRequest } from "../../src/generated/procworker/v1/process_worker_service.js";
import { DEFAULT_BATCH_SLOTS } from "../../src/worker/engine.js";
import type { BenchContext } from "../lib/context.js";
import { profiled } from "../lib/context.js";
import { floodRequest } from "../lib/echo.js";
import { readStream } from "../lib/frame-reader.js";
import { scheduleMany, spawnCounter, spawnWasm } from "../lib/procworker.js";
import type { CpuSample } from "../lib/probe.js";
import { overRounds, row, type Row } from "../lib/report.js";
import { median, now, rounds, settle } from "../lib/stats.js";

/** One timed run: wall ms and the CPU the measured process spent. */
export interface Timed {
  ms: number;
  cpu: CpuSample;
}

/** Per-slot figures of a run of `slots` slots. */
const perSlot = (t: Timed, slots: number) => ({
  us: (t.ms * 1000) / slots,
  cpuUs: t.cpu.processUs / slots,
  mainUs: t.cpu.mainUs / slots,
  rate: slots / (t.ms / 1000),
});

/** Times `work`: wall time and the CPU of the process `cpu` samples. */
async function timed(cpu: () => Promise<CpuSample>, work: () => Promise<void>): Promise<Timed> {
  const before = await cpu();
  const t0 = now();
  await work();
  const ms = now() - t0;
  const after = await cpu();
  return { ms, cpu: { processUs: after.processUs - before.processUs, mainUs: after.mainUs - before.mainUs } };
}

/** Times `work` on the server: wall time and the server process's CPU. */
const serverTimed = (ctx: BenchContext, work: () => Promise<void>): Promise<Timed> => timed(() => ctx.pw.cpu(), work);

/** A fresh process of `kind` with `slots` scheduled slots, caught up by one Await of the
 * last slot; its worker is stopped afterwards (so rounds do not pile up live workers). */
export async function catchUp(
  ctx: BenchContext,
  kind: "counter" | "wasm",
  slots: number,
  name: string,
  profile?: string,
): Promise<Timed> {
  const { client } = ctx.pw;
  const processId =
    kind === "counter" ? await spawnCounter(client, name) : await spawnWasm(client, ctx.module as Uint8Array, name);
  const last = await scheduleMany(client, processId, slots);
  await settle(100);
  const run = () =>
    serverTimed(ctx, async () => {
      const res = await client.await({ processId, slot: last }, { timeoutMs: 300_000 });
      const total = res.result?.output?.tags.get("Total");
      if (total !== String(slots)) throw new Error(`${kind} catch-up ended at Total=${total}, expected ${slots}`);
    });
  const timed = profile === undefined ? await run() : await profiled(ctx, profile, run);
  await client.stop({ processId, skipSnapshot: false });
  return timed;
}

/**
 * Gives every wasm lane of the server one catch-up of `slots`, so that no measured round pays
 * for starting a thread and warming its JIT: the server starts a lane's thread on its first
 * process, and each round's process lands on the lane its id hashes to. The server runs the
 * default `wasm_threads` (one per core of this machine).
 */
async function warmWasmLanes(ctx: BenchContext, slots: number): Promise<void> {
  const lanes = availableParallelism();
  const warm = new Set<number>();
  for (let i = 0; warm.size < lanes && i < 16 * lanes; i++) {
    const name = `warm-lane-${i}`;
    const lane = laneOf(await spawnWasm(ctx.pw.client, ctx.module as Uint8Array, name), lanes);
    if (warm.has(lane)) continue;
    warm.add(lane);
    await catchUp(ctx, "wasm", slots, name); // spawns the same definition again: the same process
  }
}

/** How a stream figure's client reads: the frame reader (the server's cost) or a grpc-js
 * client (what a Node user of grpc-js waits for; its own per-message cost sets the pace). */
type Reader = "frames" | "grpc-js";

/** The raw process streams `messages` pre-encoded messages of `size` bytes to this one. */
async function rawStream(
  ctx: BenchContext,
  messages: number,
  size: number,
  reader: Reader,
  profile?: string,
): Promise<Timed> {
  const client = reader === "grpc-js" ? ctx.raw.echoClient(true) : undefined;
  const request = floodRequest(messages, size);
  const run = () =>
    timed(
      () => ctx.raw.cpu(),
      async () => {
        const got =
          client === undefined
            ? (await readStream(ctx.raw.address, "/bench.Echo/Flood", request)).messages
            : await client.flood(messages, size);
        if (got !== messages) throw new Error(`the raw stream sent ${got} messages, expected ${messages}`);
      },
    );
  try {
    return profile === undefined ? await run() : await profiled(ctx, profile, run, "raw");
  } finally {
    client?.close();
  }
}

const COMPUTE = "/procworker.v1.ProcessWorkerService/Compute";
const SUBSCRIBE = "/procworker.v1.ProcessWorkerService/Subscribe";

/** Results per response asked for by the grouped Compute stream (3e, 3f): what the CLI asks. */
const PER_RESPONSE = 256;

/** How many results a Compute response carries: one (`result`), or its `results` counted by
 * their tags (field 2, length-delimited), without decoding them. */
function resultsIn(response: Buffer, grouped: boolean): number {
  if (!grouped) return 1;
  let count = 0;
  let at = 0;
  while (at < response.length) {
    if (response[at++] !== 0x12) throw new Error("a grouped Compute response holds only `results`");
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = response[at++] as number;
      length += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    at += length;
    count++;
  }
  return count;
}

/** A Compute stream of a fresh counter process with `slots` scheduled slots, read whole by
 * `reader`; `perResponse` results per response when given. The process is stopped after it,
 * every result stored. */
async function computeStream(
  ctx: BenchContext,
  slots: number,
  name: string,
  reader: Reader,
  perResponse?: number,
  profile?: string,
): Promise<Timed & { processId: string }> {
  const processId = await spawnCounter(ctx.pw.client, name);
  const last = await scheduleMany(ctx.pw.client, processId, slots);
  const request: ComputeRequest = {
    processId,
    slot: last,
    ...(perResponse === undefined ? {} : { maxResultsPerResponse: perResponse }),
  };
  const grouped = perResponse !== undefined;
  const raw = reader === "grpc-js" ? ctx.pw.rawClient() : undefined;
  await settle(100);
  const run = () =>
    serverTimed(ctx, async () => {
      let count = 0;
      const take = (response: Buffer): void => void (count += resultsIn(response, grouped));
      if (raw === undefined) await readStream(ctx.pw.address, COMPUTE, ComputeRequest.encode(request).finish(), take);
      else
        await new Promise<void>((resolve, reject) => {
          const stream = raw.compute(request);
          stream.on("data", take);
          stream.on("error", reject);
          stream.on("end", resolve);
        });
      if (count !== slots + 1) throw new Error(`Compute streamed ${count} results, expected ${slots + 1}`);
    });
  try {
    return { ...(profile === undefined ? await run() : await profiled(ctx, profile, run)), processId };
  } finally {
    raw?.close();
    await ctx.pw.client.stop({ processId, skipSnapshot: false });
  }
}

/** A new subscriber of a process whose `slots` + 1 results are all stored and whose worker is
 * stopped: Subscribe from slot 0, read by the frame reader up to the last stored slot. */
async function replay(ctx: BenchContext, processId: string, slots: number, profile?: string): Promise<Timed> {
  const request = SubscribeRequest.encode({ processId, fromSlot: 0n }).finish();
  await settle(100);
  const run = () =>
    serverTimed(ctx, async () => {
      const read = await readStream(ctx.pw.address, SUBSCRIBE, request, undefined, slots + 1);
      if (read.messages !== slots + 1)
        throw new Error(`Subscribe replayed ${read.messages} results, expected ${slots + 1}`);
    });
  return profile === undefined ? run() : profiled(ctx, profile, run);
}

export async function catchupFigures(ctx: BenchContext): Promise<Row[]> {
  const slots = ctx.quick ? 5_000 : 20_000;
  const commit = DEFAULT_BATCH_SLOTS;
  const output = message({ Total: String(slots) }, String(slots));
  const resultBytes = encodeResult({
    processId: "x".repeat(43),
    slot: BigInt(slots),
    messageId: "x".repeat(43),
    output,
  }).byteLength;
  const wasm = ctx.module !== undefined;
  // Five measured rounds in a full run: the figures that sit near their targets move by
  // ±20% from round to round on a shared machine, and a median of five moves less.
  const count = ctx.quick ? 2 : 5;
  const results = await rounds(count, 1, async (round) => {
    const n = round < 0 ? Math.min(slots, 3_000) : slots;
    const last = round === count - 1;
    const counter = perSlot(await catchUp(ctx, "counter", n, `c${round}`, last ? "catchup-counter" : undefined), n);
    const raw = perSlot(await ctx.raw.catchup({ slots: n, commit, resultBytes }), n);
    const computed = await computeStream(ctx, n, `s${round}`, "frames", undefined, last ? "compute-stream" : undefined);
    const stream = perSlot(computed, n + 1);
    const replayed = perSlot(await replay(ctx, computed.processId, n, last ? "replay" : undefined), n + 1);
    const grouped = perSlot(
      await computeStream(ctx, n, `g${round}`, "frames", PER_RESPONSE, last ? "compute-stream-grouped" : undefined),
      n + 1,
    );
    // A ComputeResponse is the result (resultBytes) in a 1-field wrapper: 2–3 bytes more.
    const rawStreamed = perSlot(
      await rawStream(ctx, n + 1, resultBytes + 3, "frames", last ? "raw-stream" : undefined),
      n + 1,
    );
    const streamGrpc = perSlot(await computeStream(ctx, n, `j${round}`, "grpc-js"), n + 1);
    const rawStreamedGrpc = perSlot(await rawStream(ctx, n + 1, resultBytes + 3, "grpc-js"), n + 1);
    if (wasm && round < 0) await warmWasmLanes(ctx, n);
    const w = wasm
      ? perSlot(await catchUp(ctx, "wasm", n, `w${round}`, last ? "catchup-wasm" : undefined), n)
      : undefined;
    const rawWasm = wasm
      ? perSlot(await ctx.raw.catchup({ slots: n, commit, resultBytes, module: ctx.module }), n)
      : undefined;
    ctx.log(
      `  round ${round}: counter ${counter.rate.toFixed(0)}/s (raw ${raw.rate.toFixed(0)}/s), stream ${stream.us.toFixed(1)} µs/slot, ${PER_RESPONSE} a response ${grouped.us.toFixed(1)} µs/slot` +
        (w && rawWasm ? `, wasm ${w.rate.toFixed(0)}/s (raw ${rawWasm.rate.toFixed(0)}/s)` : ""),
    );
    return { counter, raw, stream, replayed, grouped, rawStreamed, streamGrpc, rawStreamedGrpc, wasm: w, rawWasm };
  });
  type Round = (typeof results)[number];
  const vs = (pw: (r: Round) => number | undefined, base: (r: Round) => number | undefined) =>
    overRounds(results, pw, base);
  const m = (pick: (r: Round) => number | undefined): number =>
    median(results.map(pick).filter((v): v is number => v !== undefined));
  const detail = { slots, commit, resultBytes, rounds: results.length, perRound: results };
  const rows: Row[] = [
    row({
      id: "1a",
      figure: `Catch-up: Await slot ${slots / 1000}k, counter@1.0`,
      unit: "/s",
      ...vs(
        (r) => r.counter.rate,
        (r) => r.raw.rate,
      ),
      baselineIs: `raw read + step + put, durable commits of ${commit}`,
      target: { maxCost: 1.3, min: 100_000 },
      detail,
    }),
    row({
      id: "1b",
      figure: "Catch-up, counter@1.0: CPU per slot",
      unit: "us",
      ...vs(
        (r) => r.counter.cpuUs,
        (r) => r.raw.cpuUs,
      ),
      baselineIs: "the raw loop's CPU per slot (its process)",
      target: { maxCost: 1.3 },
      detail: { serverMainUs: m((r) => r.counter.mainUs), rawMainUs: m((r) => r.raw.mainUs) },
    }),
    row({
      id: "3a",
      figure: `Compute stream of ${slots / 1000}k counter@1.0 slots, per slot`,
      unit: "us",
      ...vs(
        (r) => r.stream.us,
        (r) => r.counter.us,
      ),
      baselineIs: "the catch-up of 1a, per slot",
      target: { maxCost: 1.5 },
    }),
    row({
      id: "3b",
      figure: "Compute stream: CPU per slot",
      unit: "us",
      ...vs(
        (r) => r.stream.cpuUs,
        (r) => r.counter.cpuUs,
      ),
      baselineIs: "the catch-up of 1b, CPU per slot",
      target: { maxCost: 1.5 },
    }),
    row({
      id: "3c",
      figure: "Compute stream: per slot",
      unit: "us",
      ...vs(
        (r) => r.stream.us,
        (r) => r.rawStreamed.us,
      ),
      baselineIs: "raw grpc-js stream of as many pre-encoded messages, same size (frame reader)",
    }),
    row({
      id: "3d",
      figure: "Compute stream: CPU per slot",
      unit: "us",
      ...vs(
        (r) => r.stream.cpuUs,
        (r) => r.rawStreamed.cpuUs,
      ),
      baselineIs: "the raw stream's server CPU per message",
    }),
    row({
      id: "3e",
      figure: `Compute stream, ${PER_RESPONSE} results a response: per slot`,
      unit: "us",
      ...vs(
        (r) => r.grouped.us,
        (r) => r.counter.us,
      ),
      baselineIs: "the catch-up of 1a, per slot",
      target: { maxCost: 1.5 },
    }),
    row({
      id: "3f",
      figure: `Compute stream, ${PER_RESPONSE} a response: CPU per slot`,
      unit: "us",
      ...vs(
        (r) => r.grouped.cpuUs,
        (r) => r.counter.cpuUs,
      ),
      baselineIs: "the catch-up of 1b, CPU per slot",
      target: { maxCost: 1.5 },
    }),
    row({
      id: "3i",
      figure: `Subscribe from slot 0 over ${slots / 1000}k stored results: per slot`,
      unit: "us",
      ...vs(
        (r) => r.replayed.us,
        (r) => r.rawStreamed.us,
      ),
      baselineIs: "the raw stream of 3c (frame reader)",
    }),
    row({
      id: "3j",
      figure: `Subscribe from slot 0 over ${slots / 1000}k stored results: CPU per slot`,
      unit: "us",
      ...vs(
        (r) => r.replayed.cpuUs,
        (r) => r.counter.cpuUs,
      ),
      baselineIs: "the catch-up of 1b, CPU per slot (computing them)",
    }),
    row({
      id: "3g",
      figure: "Compute stream read by a grpc-js client: per slot",
      unit: "us",
      ...vs(
        (r) => r.streamGrpc.us,
        (r) => r.rawStreamedGrpc.us,
      ),
      baselineIs: "raw grpc-js stream of as many messages, same size, read by a grpc-js client",
    }),
    row({
      id: "3h",
      figure: "Compute stream read by a grpc-js client: CPU per slot",
      unit: "us",
      ...vs(
        (r) => r.streamGrpc.cpuUs,
        (r) => r.rawStreamedGrpc.cpuUs,
      ),
      baselineIs: "that raw stream's server CPU per message",
    }),
  ];
  if (wasm) {
    rows.push(
      row({
        id: "2a",
        figure: `Catch-up: Await slot ${slots / 1000}k, wasm@1.0 WAT counter`,
        unit: "/s",
        ...vs(
          (r) => r.wasm?.rate,
          (r) => r.rawWasm?.rate,
        ),
        baselineIs: `raw read + pw_handle on main thread + put, commits of ${commit}`,
        target: { min: 60_000 },
      }),
      row({
        id: "2b",
        figure: "Catch-up, wasm@1.0: per slot",
        unit: "us",
        ...vs(
          (r) => r.wasm?.us,
          (r) => r.counter.us,
        ),
        baselineIs: "the counter@1.0 catch-up of 1a, per slot",
        target: { maxCost: 1.5 },
      }),
      row({
        id: "2c",
        figure: "Catch-up, wasm@1.0: CPU per slot (all threads)",
        unit: "us",
        ...vs(
          (r) => r.wasm?.cpuUs,
          (r) => r.counter.cpuUs,
        ),
        baselineIs: "the counter@1.0 catch-up of 1b, CPU per slot",
        target: { maxCost: 1.5 },
        detail: { wasmMainUs: m((r) => r.wasm?.mainUs), rawWasmCpuUs: m((r) => r.rawWasm?.cpuUs) },
      }),
    );
  }
  return rows.sort((a, b) => a.id.localeCompare(b.id));
}
