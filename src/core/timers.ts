/**
 * Timers that never misfire: Node treats a delay above 2^31−1 ms as 1 ms, so every delay
 * procworker sets goes through `capDelay` (docs/design.md §8).
 */

/** The largest delay Node's timers honour. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Clamps a delay into [0, MAX_TIMER_MS]; NaN becomes 0. */
export function capDelay(ms: number): number {
  if (!Number.isFinite(ms)) return ms > 0 ? MAX_TIMER_MS : 0;
  return Math.min(Math.max(0, Math.floor(ms)), MAX_TIMER_MS);
}
