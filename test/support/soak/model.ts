/**
 * Models of the two devices the soak and churn tests run — counter@1.0 and the kv-wat
 * example on wasm@1.0 — as plain TypeScript: given the messages of a schedule in order, the
 * result every slot must have. A result from the server is checked against the model's, so a
 * lost, duplicated, reordered or miscomputed slot shows as a mismatch.
 */
import type { SlotResult } from "../../../src/generated/procworker/v1/types.js";

/** The devices modelled. */
export type ModelDevice = "counter" | "kv";

/** What a slot's result must be: output tags and data, or a failed slot. */
export interface Expected {
  error: boolean;
  tags: Record<string, string>;
  data: string;
}

/** A process's model: its state after the slots applied so far. */
export interface ProcessModel {
  readonly device: ModelDevice;
  /** The result of slot 0 (the spawn). */
  init(): Expected;
  /** Applies the next slot's message; returns its result. */
  step(tags: Record<string, string>): Expected;
  /** A copy, to go on from this state without changing it. */
  clone(): ProcessModel;
}

const ok = (tags: Record<string, string>, data = ""): Expected => ({ error: false, tags, data });
const failed: Expected = { error: true, tags: {}, data: "" };

/** counter@1.0: the total starts at `Initial`; each message adds its `Amount` (default 1);
 * an Amount that is not an integer fails the slot and leaves the total. */
export function counterModel(initial: bigint, total = initial): ProcessModel {
  return {
    device: "counter",
    init: () => ok({ Total: String(initial) }, String(initial)),
    step(tags) {
      const amount = tags["Amount"] ?? "1";
      if (!/^-?\d+$/.test(amount)) return failed;
      total += BigInt(amount);
      return ok({ Total: String(total) }, String(total));
    },
    clone: () => counterModel(initial, total),
  };
}

/** examples/kv-wat: Set, Get and Delete on a map of keys; any other Action, or a Set without
 * a Value, fails the slot. */
export function kvModel(store = new Map<string, string>()): ProcessModel {
  const keys = (): string => String(store.size);
  return {
    device: "kv",
    init: () => ok({ Status: "ready", Keys: "0" }),
    step(tags) {
      const key = tags["Key"];
      const action = tags["Action"];
      if (action === undefined || key === undefined) return failed;
      switch (action) {
        case "Set": {
          const value = tags["Value"];
          if (value === undefined) return failed;
          store.set(key, value);
          return ok({ Status: "stored", Keys: keys() });
        }
        case "Get": {
          const value = store.get(key);
          return value === undefined ? ok({ Status: "missing" }) : ok({ Status: "found", Value: value });
        }
        case "Delete":
          return ok({ Status: store.delete(key) ? "deleted" : "missing", Keys: keys() });
        default:
          return failed;
      }
    },
    clone: () => kvModel(new Map(store)),
  };
}

/** Why `result` (of `slot`) is not `expected`, or undefined when it is. */
export function mismatch(result: SlotResult | undefined, slot: bigint, expected: Expected): string | undefined {
  if (result === undefined) return `slot ${slot}: no result`;
  if (result.slot !== slot) return `slot ${slot}: the result is slot ${result.slot}'s`;
  if (expected.error) {
    return result.error?.attemptedSlot === slot && result.output === undefined
      ? undefined
      : `slot ${slot}: expected a failed slot, got ${show(result)}`;
  }
  const tags = Object.fromEntries(result.output?.tags ?? []);
  const data = Buffer.from(result.output?.data ?? []).toString();
  if (result.error !== undefined || JSON.stringify(sorted(tags)) !== JSON.stringify(sorted(expected.tags))) {
    return `slot ${slot}: expected ${JSON.stringify(expected.tags)}, got ${show(result)}`;
  }
  return data === expected.data ? undefined : `slot ${slot}: expected data ${expected.data}, got ${data}`;
}

function sorted(tags: Record<string, string>): [string, string][] {
  return Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : 1));
}

function show(result: SlotResult): string {
  return result.error !== undefined
    ? `error ${JSON.stringify(result.error.message)}`
    : JSON.stringify(Object.fromEntries(result.output?.tags ?? []));
}
