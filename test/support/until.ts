/**
 * Waiting for a state of the engine by its change events (never by polling or sleeping),
 * with a bound so that a state that never comes fails the test with a clear message.
 */
import type { Engine } from "../../src/worker/engine.js";

export async function until(
  engine: Engine,
  condition: () => boolean,
  what = "the expected state",
  timeoutMs = 10_000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    await Promise.race([engine.changes.until(condition), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
