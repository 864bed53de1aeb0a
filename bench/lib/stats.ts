/**
 * Timing helpers for the benchmarks: percentiles, medians over rounds, sequential and
 * concurrent loops. Times are milliseconds from `performance.now()`.
 */
import { performance } from "node:perf_hooks";

export const now = (): number => performance.now();

/** The p-th percentile (0..100) of `values` (nearest rank on a sorted copy). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** The median over rounds: the middle value, or the mean of the two middle ones for an even
 * count (nearest rank would take the lower one: for two rounds, the slower rate but the
 * faster time, so a rate and a time of the same runs would disagree). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs `fn` `n` times one after the other; returns each call's duration in ms. */
export async function sequential(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    await fn(i);
    times.push(now() - t0);
  }
  return times;
}

/** Runs `fn` `total` times with `concurrency` calls in flight; returns calls per second. */
export async function concurrent(
  total: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const t0 = now();
  const lane = async (): Promise<void> => {
    while (next < total) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  return total / ((now() - t0) / 1000);
}

/** `rounds` results of `round()`, after `warmup` discarded ones. */
export async function rounds<T>(count: number, warmup: number, round: (i: number) => Promise<T>): Promise<T[]> {
  for (let i = 0; i < warmup; i++) await round(-1 - i);
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(await round(i));
  return out;
}

/** Lets timers, I/O and GC settle between measurements. */
export async function settle(ms = 50): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  (globalThis as { gc?: () => void }).gc?.();
}
