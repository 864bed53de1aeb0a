/**
 * Waiting with a way out. Every wait in procworker takes an AbortSignal (a gRPC deadline or
 * a client cancellation becomes one) and is capped so that nothing waits forever.
 */
import { ProcworkerError } from "./errors.js";
import { capDelay } from "./timers.js";

/** The reason a signal aborts with when a deadline passes. */
export const deadlineExceeded = (what: string): ProcworkerError => new ProcworkerError("deadline_exceeded", what);
/** The reason a signal aborts with when the caller goes away. */
export const cancelled = (): ProcworkerError => new ProcworkerError("cancelled", "the caller cancelled");

/** A signal that aborts when `parent` does or after `capMs`, whichever is first. Call
 * `dispose` when the wait ends: it clears the timer and the listener. */
export function cappedSignal(
  parent: AbortSignal | undefined,
  capMs: number,
  what: string,
): {
  signal: AbortSignal;
  dispose: () => void;
} {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(deadlineExceeded(what)), capDelay(capMs));
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onAbort);
    },
  };
}

/** The reason of an aborted signal as an Error (a bare abort becomes `cancelled`). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name !== "AbortError") return reason;
  return cancelled();
}

/** Resolves after `ms` (capped) or rejects with the signal's reason when it aborts first;
 * the timer and the listener are always removed. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, capDelay(ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Settles with `promise`, or rejects with the signal's reason if it aborts first (the
 * promise then runs on, and its outcome is dropped). The listener is always removed. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  promise.catch(() => undefined);
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener("abort", onAbort as () => void));
}
