/**
 * The reads: GetProcess (definition and latest slots), ReadSchedule (the log) and DryRun (a
 * message evaluated against the latest computed state, serialised with the worker, kept
 * nowhere).
 */
import { afterEach, describe, expect, it } from "vitest";
import { message } from "../../../src/core/message.js";
import { WorkerStoppedError } from "../../../src/core/errors.js";
import { until } from "../../support/until.js";
import { adds, closeWithoutLeaks, collect, testEngine, totals, type TestEngine } from "../../support/engine.js";

let t: TestEngine;
afterEach(async () => {
  if (t && !t.engine.closed) await closeWithoutLeaks(t);
});

async function entries(iterable: AsyncIterable<{ slot: bigint }>): Promise<bigint[]> {
  const slots: bigint[] = [];
  for await (const entry of iterable) slots.push(entry.slot);
  return slots;
}

describe("GetProcess", () => {
  it("reports the definition and the latest scheduled, computed and snapshot slots, and the live worker", async () => {
    t = testEngine({ snapshotInterval: 2 });
    const p = await t.spawnCounter({ Initial: "4" });
    expect(await t.engine.getProcess(p)).toEqual({
      processId: p,
      spawn: message({ "Execution-Device": "counter@1.0", Initial: "4" }),
      device: "counter@1.0",
      latestScheduledSlot: 0n,
      latestComputedSlot: undefined,
      latestSnapshotSlot: undefined,
      worker: undefined,
    });
    await t.engine.schedule(p, adds(1, 1, 1));
    await collect(await t.engine.compute(p, 2n));
    const got = await t.engine.getProcess(p);
    expect(got).toMatchObject({ latestScheduledSlot: 3n, latestComputedSlot: 2n, latestSnapshotSlot: 2n });
    expect(got.worker).toMatchObject({ processId: p, group: p, atSlot: 2n });
    await t.engine.stop(p, true);
    expect((await t.engine.getProcess(p)).worker).toBeUndefined();
  });

  it("refuses an unknown process with not_found and a malformed id with invalid_argument", async () => {
    t = testEngine();
    await expect(t.engine.getProcess("A".repeat(43))).rejects.toMatchObject({ code: "not_found" });
    await expect(t.engine.getProcess("nope")).rejects.toMatchObject({ code: "invalid_argument" });
  });
});

describe("ReadSchedule", () => {
  it("streams the entries from one slot to another, slot 0 being the spawn message", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    const assigned = await t.engine.schedule(p, adds(...Array.from({ length: 600 }, () => 1)));
    const all: { slot: bigint; messageId: string; message: { tags: Record<string, string> } }[] = [];
    for await (const entry of await t.engine.readSchedule(p, 0n)) all.push(entry);
    expect(all.map((e) => e.slot)).toEqual(Array.from({ length: 601 }, (_, i) => BigInt(i)));
    expect(all[0]).toMatchObject({ messageId: p, message: { tags: { "Execution-Device": "counter@1.0" } } });
    expect(all[1]?.messageId).toBe(assigned[0]?.messageId);
    expect(await entries(await t.engine.readSchedule(p, 299n, 301n))).toEqual([299n, 300n, 301n]);
    expect(await entries(await t.engine.readSchedule(p, 700n))).toEqual([]);
  });

  it("refuses a range that ends before it starts, and an unknown process", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await expect(t.engine.readSchedule(p, 2n, 1n)).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(t.engine.readSchedule("A".repeat(43), 0n)).rejects.toMatchObject({ code: "not_found" });
  });
});

describe("DryRun", () => {
  it("evaluates against the latest computed state and changes nothing", async () => {
    t = testEngine();
    const p = await t.spawnCounter({ Initial: "10" });
    await t.engine.schedule(p, adds(5));
    await collect(await t.engine.compute(p, undefined));
    const dry = await t.engine.dryRun(p, message({ Amount: "100" }));
    expect(dry).toMatchObject({ processId: p, slot: 1n, output: { tags: { Total: "115" } } });
    expect(dry.messageId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await t.engine.getProcess(p)).latestScheduledSlot).toBe(1n); // not scheduled
    await t.engine.schedule(p, adds(1));
    expect(totals(await collect(await t.engine.compute(p, undefined)))).toEqual(["16"]); // not kept
  });

  it("computes what is scheduled first, and reports a device failure as the result's error", async () => {
    t = testEngine();
    const p = await t.spawnCounter({ Initial: "7" });
    await t.engine.schedule(p, adds(1));
    const dry = await t.engine.dryRun(p, message({ Amount: "oops" }));
    expect(dry).toMatchObject({
      slot: 1n,
      error: { phase: "compute", attemptedSlot: 2n, message: expect.stringContaining("Amount") },
    });
    expect(dry.output).toBeUndefined();
    expect((await t.engine.getProcess(p)).latestComputedSlot).toBe(1n);
    expect(totals([await t.engine.await(p, 1n)])).toEqual(["8"]);
  });

  it("runs in turn with the worker: after the work queued before it, never on a half-computed state", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await collect(await t.engine.compute(p, undefined));
    await t.engine.schedule(p, adds({ Amount: "1", "Delay-Ms": "30" }, { Amount: "1", "Delay-Ms": "30" }));
    const started = t.probe.started();
    const streamed = collect(await t.engine.compute(p, undefined));
    await started;
    const dry = await t.engine.dryRun(p, message({ Amount: "0" }));
    expect(dry).toMatchObject({ slot: 2n, output: { tags: { Total: "2" } } });
    expect(t.probe.steps.map((s) => s.slot)).toEqual([0n, 1n, 2n]); // nothing ran twice
    expect(totals(await streamed)).toEqual(["1", "2"]);
  });

  it("works with process workers off (a one-shot worker restores the state)", async () => {
    t = testEngine({ processWorkers: false });
    const p = await t.spawnCounter({ Initial: "1" });
    await t.engine.schedule(p, adds(2));
    expect(await t.engine.await(p, 1n)).toMatchObject({ output: { tags: { Total: "3" } } });
    expect(await t.engine.dryRun(p, message({ Amount: "3" }))).toMatchObject({
      slot: 1n,
      output: { tags: { Total: "6" } },
    });
    await t.engine.settled();
  });

  it("fails with the retryable leader-death error when the worker stops before it ran", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await collect(await t.engine.compute(p, undefined));
    await t.engine.schedule(p, adds(1));
    t.probe.hold();
    const started = t.probe.started();
    const computing = collect(await t.engine.compute(p, undefined)).catch((e: unknown) => e);
    await started;
    const dry = t.engine.dryRun(p, message({ Amount: "1" }));
    await until(t.engine, () => t.engine.listWorkers()[0]?.mailbox === 1, "the dry run queued");
    const stopping = t.engine.stop(p);
    t.probe.open();
    await expect(dry).rejects.toBeInstanceOf(WorkerStoppedError);
    await expect(dry).rejects.toMatchObject({ code: "aborted" });
    await stopping;
    expect(await computing).toEqual([expect.objectContaining({ slot: 1n })]);
  });

  it("asked while the worker is stopping, waits for its end and runs on the next worker", async () => {
    t = testEngine();
    const p = await t.spawnCounter({ Initial: "3" });
    await collect(await t.engine.compute(p, undefined));
    t.probe.hold();
    await t.engine.schedule(p, adds(1));
    const started = t.probe.started();
    const computing = collect(await t.engine.compute(p, undefined)).catch((e: unknown) => e);
    await started;
    const stopping = t.engine.stop(p);
    const dry = t.engine.dryRun(p, message({ Amount: "10" }));
    t.probe.open();
    await stopping;
    expect(await dry).toMatchObject({ slot: 1n, output: { tags: { Total: "14" } } });
    expect(await computing).toEqual([expect.objectContaining({ slot: 1n })]);
  });
});
