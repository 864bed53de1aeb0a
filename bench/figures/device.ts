/**
 * Figure 8: the wasm@1.0 device alone (no engine, no store, no gRPC), in the client process:
 * batches of 64 steps of the WAT counter (bench/lib/wasm.ts), 20,000 slots after a warm-up
 * pass, handed over as a catch-up hands them (`runEncoded`: each message's stored bytes).
 *   8a. Wall time per slot vs a raw call of the module's pw_handle on the main thread with
 *       the same input bytes (built with the device's own `encodeInput`).
 *   8b. The same runs vs counter@1.0's device alone.
 *   8c. The main thread's CPU time per slot (what the engine, which runs on that thread,
 *       competes for) vs the raw call, which is all main-thread time.
 *   8d. The CPU time per slot of every thread (the wasm thread's included) in batches of
 *       1,024, the size a catch-up hands the device, vs the raw call: the device's whole
 *       cost, without the engine's, the store's and gRPC's noise around it.
 */
import { canonicalBytes, messageId, message as domainMessage, sha256Id } from "../../src/core/message.js";
import { createCounterDevice } from "../../src/device/counter.js";
import {
  moduleFromBytes,
  type Device,
  type EncodedStep,
  type ProcessContext,
  type Step,
} from "../../src/device/device.js";
import { createWasmDevice } from "../../src/device/wasm/index.js";
import { encodeInput } from "../../src/device/wasm/abi.js";
import { mainThreadCpuUs } from "../lib/probe.js";
import { overRounds, row, type Row } from "../lib/report.js";
import { median, now, rounds } from "../lib/stats.js";
import { rawInstance } from "../lib/wasm.js";

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
): Promise<{ us: number; mainUs: number; cpuUs: number }> {
  const msg = domainMessage({ Amount: "1" });
  const id = messageId(msg);
  const steps: Step[] = Array.from({ length: count }, (_, i) => ({ slot: BigInt(i + 1), messageId: id, message: msg }));
  // A device that takes steps as the store hands them (wasm@1.0) gets them so, as in a catch-up.
  const canonical = new Uint8Array(canonicalBytes(msg));
  const encoded: EncodedStep[] = steps.map(({ slot, messageId }) => ({ slot, messageId, canonical }));
  const pass = async (): Promise<{ us: number; mainUs: number; cpuUs: number }> => {
    const instance = await device.instantiate(ctx);
    try {
      await instance.run([{ slot: 0n, messageId: ctx.processId, message: ctx.spawn }]);
      const cpu0 = mainThreadCpuUs() / 1000;
      const all0 = process.cpuUsage();
      const t0 = now();
      for (let i = 0; i < count; i += batch) {
        const outcomes = instance.runEncoded
          ? await instance.runEncoded(encoded.slice(i, i + batch))
          : await instance.run(steps.slice(i, i + batch));
        const last = outcomes.at(-1);
        if (!last || "error" in last) throw new Error(`device run failed: ${last ? last.error : "no outcome"}`);
      }
      const us = ((now() - t0) * 1000) / count;
      const all = process.cpuUsage(all0);
      const cpuUs = (all.user + all.system) / count;
      return { us, mainUs: ((mainThreadCpuUs() / 1000 - cpu0) * 1000) / count, cpuUs };
    } finally {
      await instance.close();
    }
  };
  await pass(); // warm the JIT on both sides of the thread boundary
  return pass();
}

/** The batch a catch-up hands the device (the engine's commit size in the catch-up figures). */
const CATCH_UP_BATCH = 1024;

export async function deviceFigures({ module, quick }: { module: Uint8Array; quick: boolean }): Promise<Row[]> {
  const slots = quick ? 5_000 : 20_000;
  const batch = 64;
  const wasm = createWasmDevice({ slotTimeLimitMs: 5_000, maxMemoryMib: 256, threads: 1 });
  const counter = createCounterDevice({ slotTimeLimitMs: 5_000 });
  try {
    const results = await rounds(quick ? 2 : 3, 0, async (round) => {
      const spawn = domainMessage({ "Execution-Device": "wasm@1.0", Module: sha256Id(module), Bench: `f6f-${round}` });
      const wasmCtx = { processId: messageId(spawn), spawn, module: moduleFromBytes(module) };
      const counterSpawn = domainMessage({ "Execution-Device": "counter@1.0", Bench: `f6f-${round}` });
      const counterCtx = { processId: messageId(counterSpawn), spawn: counterSpawn };
      const wasmRun = await deviceRun(wasm, wasmCtx, slots, batch);
      const catchUpRun = await deviceRun(wasm, wasmCtx, slots, CATCH_UP_BATCH);
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
        wasmCpuUs: catchUpRun.cpuUs,
        counterMainUs: counterRun.mainUs,
      };
    });
    return [
      row({
        id: "8a",
        figure: `wasm@1.0 device alone, batches of ${batch}, per slot`,
        unit: "us",
        ...overRounds(
          results,
          (r) => r.wasmUs,
          (r) => r.rawUs,
        ),
        baselineIs: "raw pw_handle call on main thread, same input",
        detail: { slots, batch, rounds: results.length, perRound: results },
      }),
      row({
        id: "8b",
        figure: `wasm@1.0 device alone, batches of ${batch}, per slot`,
        unit: "us",
        ...overRounds(
          results,
          (r) => r.wasmUs,
          (r) => r.counterUs,
        ),
        baselineIs: "counter@1.0 device alone, same batches",
      }),
      row({
        id: "8c",
        figure: `wasm@1.0 device alone: main-thread CPU per slot`,
        unit: "us",
        ...overRounds(
          results,
          (r) => r.wasmMainUs,
          (r) => r.rawUs,
        ),
        baselineIs: "raw pw_handle call on main thread, same input",
        detail: { counterMainUs: median(results.map((r) => r.counterMainUs)) },
      }),
      row({
        id: "8d",
        figure: `wasm@1.0 device alone, batches of ${CATCH_UP_BATCH}: CPU per slot (all threads)`,
        unit: "us",
        ...overRounds(
          results,
          (r) => r.wasmCpuUs,
          (r) => r.rawUs,
        ),
        baselineIs: "raw pw_handle call on main thread, same input",
      }),
    ];
  } finally {
    await Promise.all([wasm.close(), counter.close()]);
  }
}
