import { EventEmitter } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { callSignal, DEADLINE_LEAD_MS, type CancellableCall } from "../../../src/service/call-signal.js";

/** A grpc-js call as far as callSignal sees it. */
function fakeCall(deadline: Date | number = Infinity): CancellableCall & EventEmitter & { cancelled: boolean } {
  return Object.assign(new EventEmitter(), { cancelled: false, getDeadline: () => deadline });
}

afterEach(() => vi.useRealTimers());

describe("a call's signal", () => {
  it("listens to the call only once the signal is read, and stops on dispose", () => {
    const call = fakeCall();
    const s = callSignal(call);
    expect(call.listenerCount("cancelled")).toBe(0);
    expect(s.signal.aborted).toBe(false);
    expect(call.listenerCount("cancelled")).toBe(1);
    expect(s.signal).toBe(s.signal);
    s.dispose();
    expect(call.listenerCount("cancelled")).toBe(0);
  });

  it("aborts with cancelled when the call is cancelled, before or after the signal is read", () => {
    const before = fakeCall();
    const early = callSignal(before);
    before.cancelled = true;
    expect(early.signal.reason).toMatchObject({ code: "cancelled" });
    const after = fakeCall();
    const late = callSignal(after);
    const signal = late.signal;
    after.cancelled = true;
    after.emit("cancelled");
    expect(signal.reason).toMatchObject({ code: "cancelled" });
  });

  it("ends a wait DEADLINE_LEAD_MS before the deadline, counted from the call's own clock", async () => {
    vi.useFakeTimers();
    const call = fakeCall(new Date(Date.now() + 1_000));
    const s = callSignal(call);
    expect(s.hasDeadline).toBe(true);
    await vi.advanceTimersByTimeAsync(400);
    const signal = s.signal; // read late: the deadline stays where it was
    await vi.advanceTimersByTimeAsync(600 - DEADLINE_LEAD_MS - 1);
    expect(signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(signal.reason).toMatchObject({ code: "deadline_exceeded", message: "the call's deadline is due" });
    s.dispose();
  });

  it("takes at most a tenth of a short call's time", () => {
    vi.useFakeTimers();
    const s = callSignal(fakeCall(Date.now() + 100));
    const signal = s.signal;
    vi.advanceTimersByTime(89);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    s.dispose();
  });

  it("has no deadline and no timer when the call has none", () => {
    vi.useFakeTimers();
    const s = callSignal(fakeCall(Infinity));
    expect(s.hasDeadline).toBe(false);
    expect(s.signal.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    s.dispose();
  });
});
