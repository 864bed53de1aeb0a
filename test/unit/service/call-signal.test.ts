import { EventEmitter } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { callSignal, DEADLINE_LEAD_MS } from "../../../src/service/call-signal.js";

/** A stand-in for a grpc-js server call with a deadline `ms` from now (Infinity: none). */
function call(ms: number) {
  const emitter = new EventEmitter();
  return Object.assign(emitter, { getDeadline: () => (Number.isFinite(ms) ? Date.now() + ms : Infinity) });
}

describe("callSignal", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("ends a wait DEADLINE_LEAD_MS before a deadline, so the answer beats the client's own timer", () => {
    const { signal, hasDeadline, dispose } = callSignal(call(1000));
    expect(hasDeadline).toBe(true);
    vi.advanceTimersByTime(1000 - DEADLINE_LEAD_MS - 1);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toMatchObject({ code: "deadline_exceeded", message: "the call's deadline is due" });
    dispose();
  });

  it("takes at most a tenth of a short call's time", () => {
    const { signal, dispose } = callSignal(call(100));
    vi.advanceTimersByTime(89);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    dispose();
  });

  it("aborts as cancelled when the client goes away, and never without a deadline", () => {
    const c = call(Infinity);
    const { signal, hasDeadline, dispose } = callSignal(c);
    expect(hasDeadline).toBe(false);
    vi.advanceTimersByTime(10 ** 9);
    expect(signal.aborted).toBe(false);
    c.emit("cancelled");
    expect(signal.reason).toMatchObject({ code: "cancelled" });
    dispose();
    expect(c.listenerCount("cancelled")).toBe(0);
  });
});
