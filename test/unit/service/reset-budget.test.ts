import { describe, expect, it } from "vitest";
import { NGHTTP2_RESET_BURST, ResetBudget } from "../../../src/service/reset-budget.js";

describe("ResetBudget (nghttp2's stream-reset limit, modelled)", () => {
  it("allows a burst of 1000, then refills 33 a second up to the burst", () => {
    const budget = new ResetBudget(0);
    expect(budget.left(0)).toBe(NGHTTP2_RESET_BURST);
    for (let i = 0; i < 1000; i++) budget.spend(0);
    expect(budget.left(0)).toBe(0);
    expect(budget.spend(0)).toBe(-1); // over the limit: the server has ended the connection
    expect(budget.left(1000)).toBe(32);
    expect(budget.left(100_000)).toBe(NGHTTP2_RESET_BURST);
  });

  it("runs out after about 15 s of 100 resets a second (the failure the drain prevents)", () => {
    const budget = new ResetBudget(0);
    let t = 0;
    while (budget.spend(t) >= 0) t += 10;
    expect(t / 1000).toBeCloseTo(1000 / (100 - 33), 0);
  });
});
