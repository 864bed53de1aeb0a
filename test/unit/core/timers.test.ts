import { afterEach, describe, expect, it, vi } from "vitest";
import { delay } from "../../../src/core/abort.js";
import { capDelay, MAX_TIMER_MS } from "../../../src/core/timers.js";

afterEach(() => vi.useRealTimers());

describe("timers", () => {
  it("caps delays at 2^31-1 ms so Node never fires them after 1 ms", () => {
    expect(capDelay(2 ** 40)).toBe(MAX_TIMER_MS);
    expect(capDelay(Infinity)).toBe(MAX_TIMER_MS);
    expect(capDelay(-5)).toBe(0);
    expect(capDelay(NaN)).toBe(0);
  });

  it("does not fire a huge delay early", async () => {
    vi.useFakeTimers();
    let fired = false;
    void delay(2 ** 40).then(() => (fired = true));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fired).toBe(false);
  });

  it("rejects with the signal's reason and clears its timer", async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const waiting = delay(1_000, controller.signal);
    controller.abort(new Error("gone"));
    await expect(waiting).rejects.toThrow("gone");
    expect(vi.getTimerCount()).toBe(0);
  });
});
