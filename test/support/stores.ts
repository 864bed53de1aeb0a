/**
 * A store wrapper whose writes a test can hold back, to prove ordering (nothing computed
 * before its schedule entry is durable; requests arriving while a worker retires).
 */
import type { Store } from "../../src/store/store.js";

type Method = "appendSchedule" | "putSnapshot" | "putResults";

export interface HeldStore extends Store {
  /** Holds every later call of `method` until `release(method)`. */
  hold(method: Method): void;
  release(method: Method): void;
  /** Resolves when a held call of `method` is waiting. */
  waiting(method: Method): Promise<void>;
}

export function heldStore(inner: Store): HeldStore {
  const gates = new Map<Method, { promise: Promise<void>; open: () => void }>();
  const arrivals = new Map<Method, (() => void)[]>();
  const gated =
    <A extends unknown[], R>(method: Method, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const gate = gates.get(method);
      if (gate) {
        const waiting = arrivals.get(method) ?? [];
        arrivals.delete(method);
        waiting.forEach((f) => f());
        await gate.promise;
      }
      return fn(...args);
    };
  return {
    ...inner,
    createProcess: (...a) => inner.createProcess(...a),
    getProcess: (...a) => inner.getProcess(...a),
    getModule: (...a) => inner.getModule(...a),
    latestScheduledSlot: (...a) => inner.latestScheduledSlot(...a),
    readSchedule: (...a) => inner.readSchedule(...a),
    readEncodedSchedule: (...a) => inner.readEncodedSchedule(...a),
    getResult: (...a) => inner.getResult(...a),
    readResults: (...a) => inner.readResults(...a),
    readEncodedResults: (...a) => inner.readEncodedResults(...a),
    latestResultSlot: (...a) => inner.latestResultSlot(...a),
    latestSnapshot: (...a) => inner.latestSnapshot(...a),
    latestSnapshotSlot: (...a) => inner.latestSnapshotSlot(...a),
    close: () => inner.close(),
    appendSchedule: gated("appendSchedule", (...a: Parameters<Store["appendSchedule"]>) => inner.appendSchedule(...a)),
    putSnapshot: gated("putSnapshot", (...a: Parameters<Store["putSnapshot"]>) => inner.putSnapshot(...a)),
    putResults: gated("putResults", (...a: Parameters<Store["putResults"]>) => inner.putResults(...a)),
    hold(method) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      gates.set(method, { promise, open });
    },
    release(method) {
      gates.get(method)?.open();
      gates.delete(method);
    },
    waiting(method) {
      return new Promise((resolve) => arrivals.set(method, [...(arrivals.get(method) ?? []), resolve]));
    },
  };
}
