/**
 * Figure 6: wasm@1.0 (bench/lib/wasm.ts's WAT counter).
 *   6a. Per-slot cost of computing a backlog through the engine (one Compute stream) vs a
 *       raw call of the same module's pw_handle on the main thread with the same input bytes,
 *       and vs the same backlog on counter@1.0 (what the wasm device adds to the engine).
 *   6f/6g. The device alone (no engine, no store): per-slot cost of `run` on batches of 64
 *       steps (the worker's batch), vs the same raw call and vs counter@1.0's device.
 *   6h. The same run's main-thread CPU time per slot (what the engine competes for) vs the
 *       raw call, which is all main-thread time.
 *   6c–e. Snapshot + restore of a 64 MiB process: Stop (with snapshot) then Await of the next
 *       (already scheduled) slot, which restores from the store, vs one raw 64 MiB memory
 *       copy (into memory already touched, and into a fresh allocation), and vs a raw LMDB
 *       durable put + read of 64 MiB.
 */
import { readFileSync } from "node:fs";
import { messageId, message as domainMessage, sha256Id } from "../../src/core/message.js";
import { createCounterDevice } from "../../src/device/counter.js";
import { moduleFromBytes, type Device, type ProcessContext, type Step } from "../../src/device/device.js";
import { createWasmDevice } from "../../src/device/wasm/index.js";
import { encodeInput } from "../../src/device/wasm/abi.js";
import { readAll } from "../../src/service/client.js";
import type { RawLmdb } from "../lib/lmdb.js";
import { scheduleMany, scheduleOne, spawnCounter, wire, type BenchServer } from "../lib/procworker.js";
import { row, type Row } from "../lib/report.js";
import { median, now, rounds, settle } from "../lib/stats.js";
import { rawInstance } from "../lib/wasm.js";

const BACKLOG = 3000;
const BIG_PAGES = 1024; // 64 MiB
const MIB64 = BIG_PAGES * 65536;

async function spawnWasm(pw: BenchServer, module: Uint8Array, name: string): Promise<string> {
  const { processId } = await pw.client.spawn(
    { process: wire({ "Execution-Device": "wasm@1.0", Bench: name }), module: Buffer.from(module) },
    { timeoutMs: 30_000 },
  );
  return processId;
}

/** 6a. */
export async function wasmBacklog({ pw, module }: { pw: BenchServer; module: Uint8Array }): Promise<Row[]> {
  const results = await rounds(3, 1, async (round) => {
    const processId = await spawnWasm(pw, module, `f6a-${round}`);
    const last = await scheduleMany(pw.client, processId, BACKLOG);
    await settle(50);
    const t0 = now();
    const items = await readAll(pw.client.compute({ processId, slot: last }, { timeoutMs: 60_000 }));
    const pwMs = now() - t0;
    if (items.length !== BACKLOG + 1)
      throw new Error(`Compute streamed ${items.length} results, expected ${BACKLOG + 1}`);
    const bad = items.find((i) => i.result?.error);
    if (bad) throw new Error(`slot ${bad.result?.slot} failed: ${bad.result?.error?.message}`);
    const total = items.at(-1)?.result?.output?.tags.get("Total");
    if (total !== String(BACKLOG)) throw new Error(`the WAT counter ended at Total=${total}, expected ${BACKLOG}`);
    await pw.client.stop({ processId, skipSnapshot: false });

    // the same backlog on counter@1.0 (the engine without WebAssembly or threads)
    const counterId = await spawnCounter(pw.client, `f6a-${round}`);
    const counterLast = await scheduleMany(pw.client, counterId, BACKLOG);
    await settle(50);
    const c0 = now();
    const counted = await readAll(
      pw.client.compute({ processId: counterId, slot: counterLast }, { timeoutMs: 60_000 }),
    );
    const counterMs = now() - c0;
    if (counted.length !== BACKLOG + 1) throw new Error(`counter Compute streamed ${counted.length} results`);
    await pw.client.stop({ processId: counterId, skipSnapshot: false });

    // the raw call, same module, same input bytes (built the way the device builds them)
    const call = await rawInstance(module);
    const msg = domainMessage({ Amount: "1" });
    const id = messageId(msg);
    const inputs = Array.from({ length: BACKLOG }, (_, i) =>
      encodeInput(processId, { slot: BigInt(i + 1), messageId: id, message: msg }),
    );
    for (const input of inputs) call(input); // warm the JIT
    const t1 = now();
    for (let rep = 0; rep < 3; rep++) for (const input of inputs) call(input);
    const rawUs = ((now() - t1) * 1000) / (3 * BACKLOG);
    return {
      pwUs: (pwMs * 1000) / (BACKLOG + 1),
      rawUs,
      counterUs: (counterMs * 1000) / (BACKLOG + 1),
      pwMs,
      counterMs,
      inputBytes: inputs[0]?.byteLength,
    };
  });
  return [
    row({
      id: "6a",
      figure: `wasm@1.0 WAT counter, backlog of ${BACKLOG / 1000}k, per slot`,
      unit: "us",
      procworker: median(results.map((r) => r.pwUs)),
      baseline: median(results.map((r) => r.rawUs)),
      baselineIs: "raw pw_handle call on main thread, same input",
      detail: { backlog: BACKLOG, rounds: results.length, perRound: results },
    }),
    row({
      id: "6b",
      figure: `wasm@1.0 WAT counter, backlog of ${BACKLOG / 1000}k, per slot`,
      unit: "us",
      procworker: median(results.map((r) => r.pwUs)),
      baseline: median(results.map((r) => r.counterUs)),
      baselineIs: "same backlog on counter@1.0 (engine, no wasm)",
    }),
  ];
}

/**
 * CPU time the main thread has used, in ms: Linux's schedstat for the thread whose id is the
 * process id (time on a CPU, so a busy shared machine does not inflate it); elsewhere the
 * event loop's active time, which does.
 */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8");
    return Number(stat.split(" ")[0]) / 1e6;
  } catch {
    return performance.eventLoopUtilization().active;
  }
}

/**
 * The per-slot cost (µs) of `device.run` over `count` slots in batches of `batch`, after a
 * warm-up pass: wall time, and the main thread's CPU time, which is what the engine competes
 * for.
 */
async function deviceRun(
  device: Device,
  ctx: ProcessContext,
  count: number,
  batch: number,
): Promise<{ us: number; mainUs: number }> {
  const msg = domainMessage({ Amount: "1" });
  const id = messageId(msg);
  const steps: Step[] = Array.from({ length: count }, (_, i) => ({ slot: BigInt(i + 1), messageId: id, message: msg }));
  const pass = async (): Promise<{ us: number; mainUs: number }> => {
    const instance = await device.instantiate(ctx);
    try {
      await instance.run([{ slot: 0n, messageId: ctx.processId, message: ctx.spawn }]);
      const cpu0 = mainThreadCpuMs();
      const t0 = now();
      for (let i = 0; i < count; i += batch) {
        const outcomes = await instance.run(steps.slice(i, i + batch));
        const last = outcomes.at(-1);
        if (!last || "error" in last) throw new Error(`device run failed: ${last ? last.error : "no outcome"}`);
      }
      const us = ((now() - t0) * 1000) / count;
      return { us, mainUs: ((mainThreadCpuMs() - cpu0) * 1000) / count };
    } finally {
      await instance.close();
    }
  };
  await pass(); // warm the JIT on both sides of the thread boundary
  return pass();
}

/** 6f/6g: the devices alone, without the engine. */
export async function wasmDevice({ module }: { module: Uint8Array }): Promise<Row[]> {
  const slots = 20_000;
  const batch = 64;
  const wasm = createWasmDevice({ slotTimeLimitMs: 5_000, maxMemoryMib: 256, threads: 1 });
  const counter = createCounterDevice({ slotTimeLimitMs: 5_000 });
  try {
    const results = await rounds(3, 0, async (round) => {
      const spawn = domainMessage({ "Execution-Device": "wasm@1.0", Module: sha256Id(module), Bench: `f6f-${round}` });
      const wasmCtx = { processId: messageId(spawn), spawn, module: moduleFromBytes(module) };
      const counterSpawn = domainMessage({ "Execution-Device": "counter@1.0", Bench: `f6f-${round}` });
      const counterCtx = { processId: messageId(counterSpawn), spawn: counterSpawn };
      const wasmRun = await deviceRun(wasm, wasmCtx, slots, batch);
      const counterRun = await deviceRun(counter, counterCtx, slots, batch);
      const call = await rawInstance(module);
      const msg = domainMessage({ Amount: "1" });
      const id = messageId(msg);
      const inputs = Array.from({ length: 3000 }, (_, i) =>
        encodeInput(wasmCtx.processId, { slot: BigInt(i + 1), messageId: id, message: msg }),
      );
      for (const input of inputs) call(input);
      const t1 = now();
      for (let rep = 0; rep < 3; rep++) for (const input of inputs) call(input);
      const rawUs = ((now() - t1) * 1000) / (3 * inputs.length);
      return {
        wasmUs: wasmRun.us,
        counterUs: counterRun.us,
        rawUs,
        wasmMainUs: wasmRun.mainUs,
        counterMainUs: counterRun.mainUs,
      };
    });
    const wasmUs = median(results.map((r) => r.wasmUs));
    return [
      row({
        id: "6f",
        figure: `wasm@1.0 device alone, batches of ${batch}, per slot`,
        unit: "us",
        procworker: wasmUs,
        baseline: median(results.map((r) => r.rawUs)),
        baselineIs: "raw pw_handle call on main thread, same input",
        detail: { slots, batch, rounds: results.length, perRound: results },
      }),
      row({
        id: "6g",
        figure: `wasm@1.0 device alone, batches of ${batch}, per slot`,
        unit: "us",
        procworker: wasmUs,
        baseline: median(results.map((r) => r.counterUs)),
        baselineIs: "counter@1.0 device alone, same batches",
      }),
      row({
        id: "6h",
        figure: `wasm@1.0 device alone: main-thread CPU per slot`,
        unit: "us",
        procworker: median(results.map((r) => r.wasmMainUs)),
        baseline: median(results.map((r) => r.rawUs)),
        baselineIs: "raw pw_handle call on main thread, same input",
        detail: { counterMainUs: median(results.map((r) => r.counterMainUs)) },
      }),
    ];
  } finally {
    await Promise.all([wasm.close(), counter.close()]);
  }
}

/** 6b. */
export async function wasmSnapshot({
  pw,
  module,
  lmdb,
}: {
  pw: BenchServer;
  module: Uint8Array;
  lmdb: RawLmdb;
}): Promise<Row[]> {
  const processId = await spawnWasm(pw, module, "f6b");
  const grown = await scheduleOne(pw.client, processId, { Grow: String(BIG_PAGES) });
  const res = await pw.client.await({ processId, slot: grown }, { timeoutMs: 60_000 });
  if (res.result?.error) throw new Error(`growing to 64 MiB failed: ${res.result.error.message}`);
  const stateBytes = (await pw.client.listWorkers()).workers.find((w) => w.processId === processId)?.stateBytes;

  const src = new Uint8Array(MIB64).fill(1);
  const dst = new Uint8Array(MIB64).fill(0);
  const results = await rounds(3, 1, async () => {
    const slot = await scheduleOne(pw.client, processId); // scheduled, not computed
    await settle(50);
    const t0 = now();
    const stop = await pw.client.stop({ processId, skipSnapshot: false }, { timeoutMs: 60_000 });
    const t1 = now();
    const after = await pw.client.await({ processId, slot }, { timeoutMs: 60_000 });
    const t2 = now();
    if (!stop.stopped) throw new Error("Stop found no running worker");
    if (after.result?.error) throw new Error(`slot after restore failed: ${after.result.error.message}`);
    await settle(50);

    const warmCopies: number[] = [];
    for (let i = 0; i < 3; i++) {
      const c0 = now();
      dst.set(src); // into memory already touched
      warmCopies.push(now() - c0);
    }
    const c1 = now();
    const fresh = src.slice(); // into a fresh allocation: every page is faulted in on first touch
    const freshCopyMs = now() - c1;
    if (fresh.byteLength !== MIB64) throw new Error("copy went wrong");
    const key = lmdb.key();
    const l0 = now();
    await lmdb.db.put(key, src);
    const l1 = now();
    const back = lmdb.db.getBinary(key); // one copy out of the map into a fresh Buffer
    const l2 = now();
    if (back?.byteLength !== MIB64) throw new Error("LMDB read back a different size");
    await lmdb.db.remove(key);
    return {
      stopMs: t1 - t0,
      awaitMs: t2 - t1,
      totalMs: t2 - t0,
      copyMs: median(warmCopies),
      freshCopyMs,
      lmdbPutMs: l1 - l0,
      lmdbGetMs: l2 - l1,
      lmdbMs: l2 - l0,
    };
  });
  const total = median(results.map((r) => r.totalMs));
  const detail = {
    memoryBytes: MIB64,
    stateBytes: stateBytes === undefined ? undefined : Number(stateBytes),
    rounds: results.length,
    stopP50Ms: median(results.map((r) => r.stopMs)),
    awaitAfterRestoreP50Ms: median(results.map((r) => r.awaitMs)),
    perRound: results,
  };
  return [
    row({
      id: "6c",
      figure: "wasm 64 MiB: Stop+snapshot, then restore+1 slot",
      unit: "ms",
      procworker: total,
      baseline: median(results.map((r) => r.copyMs)),
      baselineIs: "raw 64 MiB copy into touched memory",
      detail,
    }),
    row({
      id: "6d",
      figure: "wasm 64 MiB: Stop+snapshot, then restore+1 slot",
      unit: "ms",
      procworker: total,
      baseline: median(results.map((r) => r.freshCopyMs)),
      baselineIs: "raw 64 MiB copy into a fresh allocation",
    }),
    row({
      id: "6e",
      figure: "wasm 64 MiB: Stop+snapshot, then restore+1 slot",
      unit: "ms",
      procworker: total,
      baseline: median(results.map((r) => r.lmdbMs)),
      baselineIs: "raw LMDB durable put + getBinary of 64 MiB",
      detail: {
        lmdbPutP50Ms: median(results.map((r) => r.lmdbPutMs)),
        lmdbGetP50Ms: median(results.map((r) => r.lmdbGetMs)),
      },
    }),
  ];
}
