/**
 * The worker loop's lifecycle (HyperBEAM's server/3): starting → idle ⇄ computing →
 * retiring → ended, or stopping → ended; asserted transition by transition.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../../src/core/log.js";
import { message } from "../../../src/core/message.js";
import type { SlotResult } from "../../../src/core/result.js";
import { createDeviceRegistry } from "../../../src/device/registry.js";
import { Processes } from "../../../src/process/processes.js";
import { createMemoryStore } from "../../../src/store/memory-store.js";
import { singleNode } from "../../../src/core/cluster.js";
import { ProcessWorker, type WorkerExit } from "../../../src/worker/worker.js";
import { probedCounter } from "../../support/devices.js";
import { heldStore } from "../../support/stores.js";

afterEach(() => vi.useRealTimers());

async function setup(persistent = true, offThread = false) {
  const { device, probe } = probedCounter(5_000, { offThread });
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
  const states: string[] = [];
  const exits: WorkerExit[] = [];
  const waits: { count: number; resolve: () => void }[] = [];
  /** Resolves once `count` results have been published (an event, not a poll). */
  const notifiedCount = (count: number): Promise<void> =>
    notified.length >= count ? Promise.resolve() : new Promise((resolve) => waits.push({ count, resolve }));
  const worker = new ProcessWorker({
    group: processId,
    processId,
    persistent,
    processes,
    ownership: singleNode.ownership,
    logger: silentLogger(),
    maxIdleMs: 1_000,
    batchSlots: 64,
    sink: {
      computed: (_, __, results) => {
        notified.push(...results);
        for (const w of waits.filter((w) => notified.length >= w.count)) w.resolve();
        return 0;
      },
      ended: (_, __, exit) => exits.push(exit),
    },
    host: {
      changed: (w) => {
        if (states[states.length - 1] !== w.state.name) states.push(w.state.name);
      },
    },
  });
  return { worker, store, processes, probe, notified, notifiedCount, states, exits, processId };
}

describe("worker lifecycle", () => {
  it("starting → computing → idle → retiring (idle) → ended, snapshotting on the way out", async () => {
    vi.useFakeTimers();
    const { worker, store, notifiedCount, states, exits, processId } = await setup();
    expect(["acquiring", "starting"]).toContain(worker.state.name); // it began by taking its ownership
    worker.submit({ kind: "compute", target: 2n });
    await notifiedCount(3);
    await vi.advanceTimersByTimeAsync(0);
    expect(worker.state.name).toBe("idle");
    expect(worker.atSlot).toBe(2n);
    store.hold("putSnapshot");
    const snapshotting = store.waiting("putSnapshot");
    await vi.advanceTimersByTimeAsync(1_000);
    await snapshotting;
    expect(worker.state).toEqual({ name: "retiring", reason: "idle" });
    expect(worker.accepting).toBe(false);
    store.release("putSnapshot");
    expect(await worker.done).toEqual({ kind: "retired", reason: "idle" });
    expect(worker.state).toEqual({ name: "ended", exit: { kind: "retired", reason: "idle" } });
    expect(states).toEqual(["starting", "computing", "idle", "retiring", "ended"]);
    expect(exits).toEqual([{ kind: "retired", reason: "idle" }]);
    expect((await store.latestSnapshot(processId, 10n))?.slot).toBe(2n);
  });

  it("computing → stopping → ended on stop, after the batch in progress, without a snapshot when told", async () => {
    const { worker, store, probe, notified, notifiedCount, processId } = await setup();
    worker.submit({ kind: "compute", target: 1n });
    await notifiedCount(2);
    probe.hold();
    worker.submit({ kind: "compute", target: 2n });
    worker.submit({ kind: "compute", target: 2n }); // queued behind: dropped by the stop
    await probe.started();
    const stopping = worker.stop(false);
    expect(worker.state).toEqual({ name: "stopping", snapshot: false, exit: "stopped" });
    expect(worker.accepting).toBe(false);
    probe.open();
    expect(await stopping).toEqual({ kind: "stopped" });
    expect(worker.state).toEqual({ name: "ended", exit: { kind: "stopped" } });
    expect(worker.atSlot).toBe(2n); // the batch in progress finished
    expect(notified.map((r) => r.slot)).toEqual([0n, 1n, 2n]);
    expect((await store.latestSnapshot(processId, 10n))?.slot).toBe(0n); // only the periodic one at slot 0
  });

  it("on stop, a batch already handed to an off-thread device is computed, stored and published, and no other", async () => {
    const { worker, store, probe, notified, processId } = await setup(true, true);
    probe.hold();
    worker.submit({ kind: "compute", target: 2n });
    await probe.started(); // slot 0, read and run
    const handedOver = probe.started();
    probe.open();
    await handedOver; // slot 1, handed to the device ahead while slot 0 is stored
    const stopping = worker.stop(true);
    expect(await stopping).toEqual({ kind: "stopped" });
    expect(worker.atSlot).toBe(1n);
    expect(probe.steps.map((s) => s.slot)).toEqual([0n, 1n]); // slot 2 was never handed over
    expect(notified.map((r) => r.slot)).toEqual([0n, 1n]);
    expect((await store.getResult(processId, 1n))?.output?.tags).toEqual({ Total: "2" });
    expect((await store.latestSnapshot(processId, 10n))?.slot).toBe(1n); // the stop's snapshot
  });

  it("an off-thread device's batches double from one slot, though each is sized a batch early", async () => {
    const { worker, processes, probe, processId, notifiedCount } = await setup(true, true);
    await processes.schedule(
      processId,
      Array.from({ length: 125 }, () => message({ Amount: "1" })),
    );
    worker.submit({ kind: "compute", target: 127n });
    await notifiedCount(128);
    await worker.stop(false);
    // Slot 0, then each batch handed over while the one before it was taken: 1, 2, 4 … 64
    // (the last, slots 64–127, in two calls around the state exported at slot 100).
    expect(probe.runs).toEqual([1, 1, 2, 4, 8, 16, 32, 37, 27]);
  });

  it("sizes batches by their computation, not by the previous batch's write they wait to publish", async () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    const { worker, store, processes, probe, processId, notifiedCount } = await setup();
    await processes.schedule(
      processId,
      Array.from({ length: 125 }, () => message({ Amount: "1" })),
    );
    store.hold("putResults");
    const written = store.waiting("putResults");
    const second = new Promise<void>((resolve) => void probe.started().then(() => probe.started().then(resolve)));
    worker.submit({ kind: "compute", target: 127n });
    await written; // slot 0's write is held
    await second; // slots 1–2 are being computed
    await new Promise(setImmediate); // …and done: the worker waits to publish slot 0
    vi.advanceTimersByTime(1_000); // a write that takes a second
    store.release("putResults");
    await notifiedCount(128);
    await worker.stop(false);
    // Still doubling (the last batch, slots 63–126, in two calls around the export at 100).
    expect(probe.runs).toEqual([1, 2, 4, 8, 16, 32, 38, 26, 1]);
  });

  it("→ ended (failed) when its device instance breaks, and says why", async () => {
    const { worker, probe, exits } = await setup();
    probe.breakNext(new Error("thread died"));
    worker.submit({ kind: "compute", target: 2n });
    const exit = await worker.done;
    expect(exit).toMatchObject({ kind: "failed", progressed: false, error: { message: "thread died" } });
    expect(worker.state).toEqual({ name: "ended", exit });
    expect(exits).toEqual([exit]);
    expect(probe.closed).toBe(probe.instances);
  });

  it("a one-shot worker (process_workers off) ends as soon as its mailbox is empty", async () => {
    const { worker, notified } = await setup(false);
    worker.submit({ kind: "compute", target: 1n });
    expect(await worker.done).toEqual({ kind: "retired", reason: "idle" });
    expect(notified.map((r) => r.slot)).toEqual([0n, 1n]);
  });

  it("idle → retiring (evicted) → ended on evict; evicting a busy worker does nothing", async () => {
    const { worker, probe, notifiedCount } = await setup();
    probe.hold();
    worker.submit({ kind: "compute", target: 1n });
    await probe.started();
    worker.evict(); // computing: ignored
    expect(worker.state).toEqual({ name: "computing", target: 1n });
    probe.open();
    await notifiedCount(2);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(worker.state.name).toBe("idle");
    worker.evict();
    expect(worker.state).toEqual({ name: "retiring", reason: "evicted" });
    expect(await worker.done).toEqual({ kind: "retired", reason: "evicted" });
  });

  it("a worker that cannot take ownership ends at once without computing (another node owns it)", async () => {
    const { worker: _unused, ...rest } = await setup();
    const exits: WorkerExit[] = [];
    const other = new ProcessWorker({
      group: rest.processId,
      processId: rest.processId,
      persistent: true,
      processes: new Processes({
        store: rest.store,
        devices: createDeviceRegistry([probedCounter().device]),
        logger: silentLogger(),
        snapshotInterval: 100,
        snapshotKeep: 2,
      }),
      ownership: { acquire: async () => false, release: async () => undefined, ownerOf: async () => undefined },
      logger: silentLogger(),
      maxIdleMs: 1_000,
      batchSlots: 64,
      sink: { computed: () => 0, ended: (_, __, exit) => exits.push(exit) },
      host: { changed: () => undefined },
    });
    other.submit({ kind: "compute", target: 2n });
    expect(await other.done).toEqual({ kind: "not_owner" });
    expect(exits).toEqual([{ kind: "not_owner" }]);
    expect(other.atSlot).toBeUndefined();
    await _unused.stop(false);
  });
});
