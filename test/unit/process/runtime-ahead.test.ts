/**
 * For a device that computes off the main thread, the runtime works one batch ahead: it reads
 * the next batch's schedule while the device computes the current one (the prefetched entries
 * serve the next batch whatever its size), and, while its caller says it goes on, hands the
 * next batch to the device before returning the current one. Results and snapshots are those
 * of a runtime that does neither.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/log.js";
import { canonicalBytes, message, messageId } from "../../../src/core/message.js";
import type { SlotResult } from "../../../src/core/result.js";
import { createCounterDevice } from "../../../src/device/counter.js";
import type { Device, EncodedStep } from "../../../src/device/device.js";
import { ProcessRuntime } from "../../../src/process/runtime.js";
import { FORMAT, decodeMessage } from "../../../src/store/codec.js";
import { createMemoryStore } from "../../../src/store/memory-store.js";
import type { Store } from "../../../src/store/store.js";
import { resultBytes } from "../../support/determinism.js";

/** counter@1.0, its instances marked as computing off the main thread (or not). */
function counter(offThread: boolean): Device {
  const inner = createCounterDevice({ slotTimeLimitMs: 5_000 });
  return {
    ...inner,
    async instantiate(ctx) {
      const instance = await inner.instantiate(ctx);
      return Object.assign(instance, { computesOffThread: offThread });
    },
  };
}

/** The store, with every readSchedule range it was asked for. */
function recording(store: Store): { store: Store; reads: [bigint, bigint][] } {
  const reads: [bigint, bigint][] = [];
  return {
    reads,
    store: {
      ...store,
      readSchedule: (processId, from, to, limit) => {
        reads.push([from, to]);
        return store.readSchedule(processId, from, to, limit);
      },
    },
  };
}

async function scheduled(
  slots: number,
): Promise<{ store: Store; processId: string; spawn: ReturnType<typeof message> }> {
  const store = createMemoryStore();
  const spawn = message({ "Execution-Device": "counter@1.0", Initial: "5" });
  const processId = messageId(spawn);
  await store.createProcess(processId, spawn, 0);
  await store.appendSchedule(
    processId,
    Array.from({ length: slots }, (_, i) => message({ Amount: String(i + 1) })),
    0,
  );
  return { store, processId, spawn };
}

/** Computes through `target` in batches of the given sizes (the last size repeats); with
 * `goOn`, the runtime may hand batches to the device ahead. */
async function computeIn(
  offThread: boolean,
  sizes: number[],
  target: bigint,
  opts: { goOn?: () => boolean; snapshotInterval?: bigint } = {},
) {
  const { store: inner, processId, spawn } = await scheduled(Number(target));
  const { store, reads } = recording(inner);
  const snapshotInterval = opts.snapshotInterval ?? 1n << 40n;
  const deps = { store, snapshotInterval, snapshotKeep: 1000, logger: silentLogger() };
  const runtime = await ProcessRuntime.restore(deps, { processId, spawn, device: counter(offThread) });
  const results: SlotResult[] = [];
  for (let i = 0; runtime.nextSlot <= target; i++) {
    const batch = await runtime.computeAhead(target, sizes[Math.min(i, sizes.length - 1)]!, opts.goOn);
    await batch.stored;
    results.push(...batch.results);
  }
  await runtime.close();
  const snapshots: [bigint, string][] = [];
  for (let at = 0n; at <= target; at++) {
    const found = await inner.latestSnapshot(processId, at);
    if (found?.slot === at) snapshots.push([at, Buffer.from(found.state).toString("hex")]);
  }
  return { results, reads, snapshots, runtime };
}

describe("ProcessRuntime schedule prefetch", () => {
  it("reads the next batch's schedule ahead for an off-thread device, whatever the next batch's size", async () => {
    const target = 40n;
    const sizes = [5, 10, 3, 8, 30];
    const ahead = await computeIn(true, sizes, target);
    const plain = await computeIn(false, sizes, target);
    expect(ahead.results.map((r) => r.slot)).toEqual(Array.from({ length: 41 }, (_, i) => BigInt(i)));
    expect(resultBytes(ahead.results)).toBe(resultBytes(plain.results));
    // Plain: one read per batch, when it starts.
    expect(plain.reads).toEqual([
      [0n, 4n],
      [5n, 14n],
      [15n, 17n],
      [18n, 25n],
      [26n, 40n],
    ]);
    // Ahead: each batch also reads the next one at the size it had (0–4 reads 5–9); a larger
    // next batch reads only what is missing (10–14), a smaller one uses part of what was read.
    expect(ahead.reads).toEqual([
      [0n, 4n],
      [5n, 9n],
      [10n, 14n],
      [15n, 24n],
      [18n, 20n],
      [21n, 25n],
      [26n, 33n],
      [34n, 40n],
    ]);
  });
});

describe("ProcessRuntime batches handed ahead", () => {
  it("computes the same results and snapshots when each next batch is handed to the device early", async () => {
    const target = 60n;
    const sizes = [1, 2, 4, 8, 16];
    const opts = { goOn: () => true, snapshotInterval: 10n };
    const ahead = await computeIn(true, sizes, target, opts);
    const plain = await computeIn(false, sizes, target, opts);
    expect(ahead.results.map((r) => r.slot)).toEqual(Array.from({ length: 61 }, (_, i) => BigInt(i)));
    expect(resultBytes(ahead.results)).toBe(resultBytes(plain.results));
    // The states exported inside batches handed over ahead are those of their slots.
    expect(ahead.snapshots.map(([slot]) => slot)).toEqual([0n, 10n, 20n, 30n, 40n, 50n, 60n]);
    expect(ahead.snapshots).toEqual(plain.snapshots);
  });

  it("hands nothing ahead once the caller stops going on, and refuses to be asked for its state meanwhile", async () => {
    let going = true;
    const { store, processId, spawn } = await scheduled(30);
    const deps = { store, snapshotInterval: 1n << 40n, snapshotKeep: 1, logger: silentLogger() };
    const runtime = await ProcessRuntime.restore(deps, { processId, spawn, device: counter(true) });
    await (
      await runtime.computeAhead(30n, 5, () => going)
    ).stored;
    expect(runtime.hasPosted).toBe(true); // slots 5–9 are on the device
    await expect(runtime.exportState()).rejects.toThrow(/exporting the state .* while a batch is on its device/);
    await expect(runtime.snapshot()).rejects.toThrow(/while a batch is on its device/);
    going = false;
    const taken = await runtime.computeAhead(30n, 5, () => going);
    expect(taken.results.map((r) => r.slot)).toEqual([5n, 6n, 7n, 8n, 9n]);
    expect(runtime.hasPosted).toBe(false);
    expect(runtime.slot).toBe(9n);
    await taken.stored;
    await runtime.snapshot();
    expect((await store.latestSnapshot(processId, 30n))?.slot).toBe(9n);
    await runtime.close();
  });

  it("still returns, stores and publishes a batch when the next one's schedule cannot be read", async () => {
    const { store: inner, processId, spawn } = await scheduled(20);
    let failFrom: bigint | undefined = 5n;
    const store: Store = {
      ...inner,
      readSchedule: async (p, from, to, limit) => {
        if (from === failFrom) throw new Error("disk read failed");
        return inner.readSchedule(p, from, to, limit);
      },
    };
    const deps = { store, snapshotInterval: 1n << 40n, snapshotKeep: 1, logger: silentLogger() };
    const runtime = await ProcessRuntime.restore(deps, { processId, spawn, device: counter(true) });
    const first = await runtime.computeAhead(20n, 5, () => true);
    await first.stored;
    expect(first.results.map((r) => r.slot)).toEqual([0n, 1n, 2n, 3n, 4n]);
    expect(runtime.hasPosted).toBe(false); // nothing handed over: slot 5's entry was unreadable
    expect((await inner.getResult(processId, 4n))?.slot).toBe(4n);
    await expect(runtime.computeAhead(20n, 5, () => true)).rejects.toThrow(/disk read failed/);
    failFrom = undefined;
    await runtime.close();
  });
});

describe("ProcessRuntime steps left encoded", () => {
  it("hands an off-thread device that takes encoded steps the stored bytes, never decoding a message", async () => {
    const { store: inner, processId, spawn } = await scheduled(40);
    const encodedReads: bigint[] = [];
    const store: Store = {
      ...inner,
      readSchedule: () => Promise.reject(new Error("the schedule was read decoded")),
      readEncodedSchedule: (p, from, to, limit) => {
        encodedReads.push(from);
        return inner.readEncodedSchedule(p, from, to, limit);
      },
    };
    const handed: Uint8Array[] = [];
    const base = counter(true);
    const device: Device = {
      ...base,
      async instantiate(ctx) {
        const instance = await base.instantiate(ctx);
        const run = instance.run.bind(instance);
        return Object.assign(instance, {
          run: () => Promise.reject(new Error("decoded steps were handed over")),
          // What a device makes of the bytes: here, the message they encode.
          runEncoded: (steps: EncodedStep[]) => {
            handed.push(...steps.map((s) => s.canonical));
            const message = (s: EncodedStep) => decodeMessage(Uint8Array.of(FORMAT, ...s.canonical));
            return run(steps.map((s) => ({ slot: s.slot, messageId: s.messageId, message: message(s) })));
          },
        });
      },
    };
    const deps = { store, snapshotInterval: 10n, snapshotKeep: 1000, logger: silentLogger() };
    const runtime = await ProcessRuntime.restore(deps, { processId, spawn, device });
    const results: SlotResult[] = [];
    while (runtime.nextSlot <= 40n) {
      const batch = await runtime.computeAhead(40n, 8, () => true);
      await batch.stored;
      results.push(...batch.results);
    }
    await runtime.close();
    const plain = await computeIn(false, [8], 40n, { snapshotInterval: 10n });
    expect(resultBytes(results)).toBe(resultBytes(plain.results));
    expect(handed).toHaveLength(41);
    const stored = await inner.readSchedule(processId, 0n, 40n);
    expect(handed).toEqual(stored.map((e) => new Uint8Array(canonicalBytes(e.message))));
    expect(encodedReads.length).toBeGreaterThan(1);
  });
});
