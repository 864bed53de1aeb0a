import { afterEach, describe, expect, it, vi } from "vitest";
import { WorkerStoppedError } from "../../../src/core/errors.js";
import { ProcessHub } from "../../../src/worker/process-hub.js";
import { adds, closeWithoutLeaks, collect, testEngine, totals, type TestEngine } from "../../support/engine.js";
import { until } from "../../support/until.js";

let t: TestEngine;
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  if (t && !t.engine.closed) await closeWithoutLeaks(t);
});

describe("await", () => {
  it("returns a stored result at once", async () => {
    t = testEngine();
    const p = await t.spawnCounter({ Initial: "4" });
    await collect(await t.engine.compute(p, undefined));
    expect((await t.engine.await(p, 0n)).output?.tags["Total"]).toBe("4");
  });

  it("waits for a slot not yet scheduled and computes it as soon as it is (eager compute)", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    const waiting = t.engine.await(p, 2n);
    await t.engine.schedule(p, adds(1));
    await t.engine.schedule(p, adds(10));
    const result = await waiting;
    expect([result.slot, result.output?.tags["Total"]]).toEqual([2n, "11"]);
  });

  it("notifies every waiter for slot k and for any once, and not the waiters for other slots", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await collect(await t.engine.compute(p, undefined));
    const notified = vi.spyOn(ProcessHub.prototype, "publish");
    const forOne = [t.engine.await(p, 1n), t.engine.await(p, 1n)];
    const forAny = [t.engine.await(p, undefined), t.engine.await(p, undefined)];
    const controller = new AbortController();
    const forTwo = t.engine.await(p, 2n, controller.signal);
    const settled = { two: false };
    void forTwo.then(() => (settled.two = true)).catch(() => undefined);
    await t.engine.schedule(p, adds(7));
    const results = await Promise.all([...forOne, ...forAny]);
    expect(results.map((r) => r.slot)).toEqual([1n, 1n, 1n, 1n]);
    expect(new Set(results.map((r) => r.output?.tags["Total"]))).toEqual(new Set(["7"]));
    const counts = notified.mock.results.map((r) => r.value);
    expect(counts).toEqual([4]);
    expect(settled.two).toBe(false);
    expect(t.engine.attached().waiters).toBe(1);
    controller.abort();
    await expect(forTwo).rejects.toMatchObject({ code: "cancelled" });
  });

  it("removes a cancelled waiter at once", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    const controller = new AbortController();
    const waiting = t.engine.await(p, 5n, controller.signal);
    await until(t.engine, () => t.engine.attached().waiters === 1, "one waiter");
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: "cancelled" });
    expect(t.engine.attached()).toEqual({ waiters: 0, streams: 0, hubs: 0 });
  });

  it("ends a wait at its deadline, and caps a wait with no deadline at max_await_ms", async () => {
    vi.useFakeTimers();
    t = testEngine({ maxAwaitMs: 1_000 });
    const p = await t.spawnCounter();
    const capped = t.engine.await(p, 3n);
    const assertion = expect(capped).rejects.toMatchObject({ code: "deadline_exceeded" });
    await vi.advanceTimersByTimeAsync(999);
    expect(t.engine.attached().waiters).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await assertion;
    const deadline = t.engine.await(p, 3n, AbortSignal.timeout(10));
    vi.useRealTimers();
    await expect(deadline).rejects.toMatchObject({ name: "TimeoutError" });
    expect(t.engine.attached().waiters).toBe(0);
  });

  it("fails every waiter with the retryable leader-death error when the worker is stopped", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds({ Amount: "1" }));
    t.probe.hold();
    const waiters = [t.engine.await(p, 1n), t.engine.await(p, undefined), t.engine.await(p, 9n)];
    const stream = await t.engine.compute(p, 1n);
    const streamed = collect(stream);
    await t.probe.started();
    const stopping = t.engine.stop(p);
    t.probe.open();
    const outcomes = await Promise.allSettled([...waiters, streamed]);
    // The slot in progress finished (slot 0) and its waiter got it; everyone still waiting then failed.
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        expect(outcome.reason).toBeInstanceOf(WorkerStoppedError);
        expect(outcome.reason).toMatchObject({ code: "aborted" });
      }
    }
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "fulfilled", "rejected", "rejected"]);
    expect(outcomes[1]).toMatchObject({ value: { slot: 0n } });
    expect(await stopping).toMatchObject({ stopped: true });
    // The next call recovers with a fresh worker from the store.
    expect(totals(await collect(await t.engine.compute(p, 1n)))).toContain("1");
  });

  it("fails waiters promptly when the worker crashes, and the next call recovers", async () => {
    t = testEngine();
    const p = await t.spawnCounter();
    await collect(await t.engine.compute(p, undefined));
    t.probe.breakNext(new Error("thread died"));
    const waiting = t.engine.await(p, 1n);
    await t.engine.schedule(p, adds(2));
    await expect(waiting).rejects.toMatchObject({ code: "aborted", message: expect.stringContaining("crashed") });
    await t.engine.settled();
    expect((await t.engine.await(p, 1n)).output?.tags["Total"]).toBe("2");
  });
});
