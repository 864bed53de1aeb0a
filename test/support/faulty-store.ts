/**
 * A store wrapper that fails chosen calls for a while, the way the LMDB store fails: an I/O
 * error, a full disk, or (as a networked store would) a lost connection. Each fault is the
 * raw error LMDB or the OS gives, classified by the LMDB store's own `storeFailure`, so tests
 * see exactly what a client would. Calls that fail change nothing.
 */
import { ProcworkerError } from "../../src/core/errors.js";
import { storeFailure } from "../../src/store/lmdb-store.js";
import type { Store } from "../../src/store/store.js";

/** The kinds of fault. */
export type Fault = "io" | "disk_full" | "connection_lost";

/** Every store method but close. */
export type StoreMethod = Exclude<keyof Store, "close">;

const READS: StoreMethod[] = [
  "getProcess",
  "getModule",
  "latestScheduledSlot",
  "readSchedule",
  "readEncodedSchedule",
  "getResult",
  "readResults",
  "readEncodedResults",
  "latestResultSlot",
  "latestSnapshot",
  "latestSnapshotSlot",
];
const WRITES: StoreMethod[] = ["createProcess", "appendSchedule", "putResults", "putSnapshot"];
/** The methods a fault hits unless told otherwise. */
export const ALL_METHODS: readonly StoreMethod[] = [...READS, ...WRITES];
export const READ_METHODS: readonly StoreMethod[] = READS;
export const WRITE_METHODS: readonly StoreMethod[] = WRITES;

/** The error a call fails with under `fault`. */
export function faultError(fault: Fault): unknown {
  switch (fault) {
    case "io":
      // lmdb-js's error for EIO; the disk has room, so it is an I/O error.
      return storeFailure(Object.assign(new Error("Input/output error"), { code: 5 }), 2 ** 40);
    case "disk_full":
      return storeFailure(Object.assign(new Error("No space left on device"), { code: 28 }));
    case "connection_lost":
      return storeFailure(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
  }
}

export interface FaultyStore extends Store {
  /** From now on, calls of `methods` (default: all) fail with `fault` until `heal()`. */
  fail(fault: Fault, methods?: readonly StoreMethod[]): void;
  /** Calls go through again. */
  heal(): void;
  /** How many calls have failed so far. */
  readonly failures: number;
  /** Resolves once `count` more calls have failed. */
  failed(count?: number): Promise<void>;
}

export function faultyStore(inner: Store): FaultyStore {
  let current: { error: unknown; methods: Set<StoreMethod> } | undefined;
  let failures = 0;
  let waiting: { at: number; resolve: () => void }[] = [];
  const wrap = <M extends StoreMethod>(method: M): Store[M] =>
    (async (...args: unknown[]) => {
      if (current?.methods.has(method)) {
        failures++;
        const due = waiting.filter((w) => failures >= w.at);
        waiting = waiting.filter((w) => failures < w.at);
        due.forEach((w) => w.resolve());
        throw current.error;
      }
      return (inner[method] as (...a: unknown[]) => Promise<unknown>)(...args);
    }) as Store[M];
  const store = Object.fromEntries(ALL_METHODS.map((m) => [m, wrap(m)])) as unknown as Store;
  return {
    ...store,
    close: () => inner.close(),
    fail(fault, methods = ALL_METHODS) {
      const error = faultError(fault);
      if (!(error instanceof ProcworkerError)) throw new Error(`fault ${fault} is not a store failure`);
      current = { error, methods: new Set(methods) };
    },
    heal() {
      current = undefined;
    },
    get failures() {
      return failures;
    },
    failed(count = 1) {
      return new Promise((resolve) => waiting.push({ at: failures + count, resolve }));
    },
  };
}
