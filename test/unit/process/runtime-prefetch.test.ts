/**
 * For a device that computes off the main thread, the runtime reads the next batch's
 * schedule while the device computes the current one. The prefetched entries serve the next
 * batch whatever its size (a smaller batch uses part of them, a larger one reads the rest),
 * and the results are those of a runtime that reads each batch when it starts.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/log.js";
import { message, messageId } from "../../../src/core/message.js";
import type { SlotResult } from "../../../src/core/result.js";
import { createCounterDevice } from "../../../src/device/counter.js";
import type { Device } from "../../../src/device/device.js";
import { ProcessRuntime } from "../../../src/process/runtime.js";
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

/** Computes through `target` in batches of the given sizes (the last size repeats). */
async function computeIn(offThread: boolean, sizes: number[], target: bigint) {
  const { store: inner, processId, spawn } = await scheduled(Number(target));
  const { store, reads } = recording(inner);
  const deps = { store, snapshotInterval: 1n << 40n, snapshotKeep: 1, logger: silentLogger() };
  const runtime = await ProcessRuntime.restore(deps, { processId, spawn, device: counter(offThread) });
  const results: SlotResult[] = [];
  for (let i = 0; runtime.nextSlot <= target; i++) {
    results.push(...(await runtime.computeBatch(target, sizes[Math.min(i, sizes.length - 1)]!)));
  }
  await runtime.close();
  return { results, reads };
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
