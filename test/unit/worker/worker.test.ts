/**
 * The worker loop's lifecycle (the seed's server/3): starting → running → retiring →
 * stopped, or → failed; asserted transition by transition.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../../src/core/log.js";
import { message } from "../../../src/core/message.js";
import type { SlotResult } from "../../../src/core/result.js";
import { createDeviceRegistry } from "../../../src/device/registry.js";
import { Processes } from "../../../src/process/processes.js";
import { createMemoryStore } from "../../../src/store/memory-store.js";
import { Worker, type WorkerState } from "../../../src/worker/worker.js";
import { probedCounter } from "../../support/devices.js";
import { heldStore } from "../../support/stores.js";

afterEach(() => vi.useRealTimers());

async function setup(persistent = true) {
  const { device, probe } = probedCounter();
  const store = heldStore(createMemoryStore());
  const processes = new Processes({
    store,
    devices: createDeviceRegistry([device]),
    logger: silentLogger(),
    snapshotInterval: 100,
    snapshotKeep: 2,
  });
  const processId = await processes.spawn(message({ "Execution-Device": "counter@1.0" }));
  await processes.schedule(processId, [message({ Amount: "2" }), message({ Amount: "3" })]);
  const notified: SlotResult[] = [];
  const states: WorkerState[] = [];
  const waits: { count: number; resolve: () => void }[] = [];
  /** Resolves once `count` results have been notified (an event, not a poll). */
  const notifiedCount = (count: number): Promise<void> =>
    notified.length >= count ? Promise.resolve() : new Promise((resolve) => waits.push({ count, resolve }));
  const worker = new Worker({
    group: processId,
    processId,
    processes,
    logger: silentLogger(),
    maxIdleMs: 1_000,
    persistent,
    batchSlots: 64,
    notifyCompute: (r) => {
      notified.push(r);
      for (const w of waits.filter((w) => notified.length >= w.count)) w.resolve();
      return 0;
    },
    onProgress: (w) => states.push(w.state),
  });
  return { worker, store, probe, notified, notifiedCount, states, processId };
}

describe("worker lifecycle", () => {
  it("starting → running → retiring (idle) → stopped, snapshotting on the way out", async () => {
    vi.useFakeTimers();
    const { worker, store, notifiedCount, states, processId } = await setup();
    expect(worker.state).toBe("starting");
    worker.submit({ target: 2n });
    await notifiedCount(3);
    expect(states).toContain("running");
    expect(worker.state).toBe("running");
    expect(worker.atSlot).toBe(2n);
    store.hold("putSnapshot");
    const snapshotting = store.waiting("putSnapshot");
    await vi.advanceTimersByTimeAsync(1_000);
    await snapshotting;
    expect(worker.state).toBe("retiring");
    store.release("putSnapshot");
    expect(await worker.done).toEqual({ kind: "retired", leftovers: [] });
    expect(worker.state).toBe("stopped");
    expect((await store.latestSnapshot(processId, 10n))?.slot).toBe(2n);
  });

  it("running → stopped on stop, after the batch in progress, without a snapshot when told", async () => {
    const { worker, store, probe, notified, notifiedCount, processId } = await setup();
    worker.submit({ target: 1n });
    await notifiedCount(2);
    probe.hold();
    worker.submit({ target: 2n });
    worker.submit({ target: 2n }); // queued behind: dropped by the stop
    await probe.started();
    const stopping = worker.stop(false);
    expect(worker.accepting).toBe(false);
    probe.open();
    expect(await stopping).toEqual({ kind: "stopped" });
    expect(worker.state).toBe("stopped");
    expect(worker.atSlot).toBe(2n); // the batch in progress finished
    expect(notified.map((r) => r.slot)).toEqual([0n, 1n, 2n]);
    expect((await store.latestSnapshot(processId, 10n))?.slot).toBe(0n); // only the periodic one at slot 0
  });

  it("→ failed when its device instance breaks, and says why", async () => {
    const { worker, probe } = await setup();
    probe.breakNext(new Error("thread died"));
    worker.submit({ target: 2n });
    const exit = await worker.done;
    expect(exit.kind).toBe("failed");
    expect(exit.kind === "failed" && (exit.error as Error).message).toBe("thread died");
    expect(worker.state).toBe("failed");
    expect(probe.closed).toBe(probe.instances);
  });

  it("a one-shot worker (process_workers off) ends as soon as its mailbox is empty", async () => {
    const { worker, notified } = await setup(false);
    worker.submit({ target: 1n });
    expect((await worker.done).kind).toBe("retired");
    expect(notified.map((r) => r.slot)).toEqual([0n, 1n]);
  });

  it("hands requests that arrive while it retires to its successor", async () => {
    vi.useFakeTimers();
    const { worker, store, notifiedCount } = await setup();
    worker.submit({ target: 1n });
    await notifiedCount(2);
    store.hold("putSnapshot");
    const snapshotting = store.waiting("putSnapshot");
    await vi.advanceTimersByTimeAsync(1_000);
    await snapshotting;
    expect(worker.accepting).toBe(true);
    worker.submit({ target: 2n });
    store.release("putSnapshot");
    expect(await worker.done).toEqual({ kind: "retired", leftovers: [{ target: 2n }] });
  });
});
