/**
 * The callers waiting for one result of a process (HyperBEAM's listeners in `await/5`): for a
 * given slot, or for "any" (the next slot to complete). Indexed by slot, so notifying a
 * result costs the waiters it settles, not every waiter of the process.
 */
import { abortReason } from "../core/abort.js";
import type { SlotResult } from "../core/result.js";

interface Waiter {
  slot: bigint | undefined;
  resolve: (result: SlotResult) => void;
  reject: (error: Error) => void;
}

/** A wait in progress: its promise; `settle` for a result found in the store, `fail` to end
 * it with an error of the caller's own (both leave the waiters at once). */
export interface Wait {
  result: Promise<SlotResult>;
  settle(result: SlotResult): void;
  fail(error: Error): void;
}

export class Waiters {
  private readonly bySlot = new Map<bigint, Set<Waiter>>();
  private readonly forAny = new Set<Waiter>();
  private count = 0;

  /** @param onLeave called whenever a waiter leaves (settled, failed, or aborted). */
  constructor(private readonly onLeave: () => void) {}

  /** Waiters now attached. */
  get size(): number {
    return this.count;
  }

  /** The highest slot waited for, if any. */
  maxSlot(): bigint | undefined {
    let max: bigint | undefined;
    for (const slot of this.bySlot.keys()) if (max === undefined || slot > max) max = slot;
    return max;
  }

  /** True when someone waits for "any" slot. */
  get wantsAny(): boolean {
    return this.forAny.size > 0;
  }

  /**
   * Joins the waiters for `slot` (undefined: any). Resolves with the result; rejects with the
   * signal's reason (deadline, cancel) or with what `failAll` gives. The waiter leaves at once
   * however the wait ends, and its abort listener is removed.
   */
  join(slot: bigint | undefined, signal: AbortSignal): Wait {
    let waiter!: Waiter;
    const result = new Promise<SlotResult>((resolve, reject) => {
      const leave = (): boolean => {
        const set = slot === undefined ? this.forAny : this.bySlot.get(slot);
        if (set === undefined || !set.delete(waiter)) return false;
        if (slot !== undefined && set.size === 0) this.bySlot.delete(slot);
        this.count--;
        signal.removeEventListener("abort", onAbort);
        this.onLeave();
        return true;
      };
      const onAbort = (): void => {
        if (leave()) reject(abortReason(signal));
      };
      waiter = {
        slot,
        resolve: (r) => {
          if (leave()) resolve(r);
        },
        reject: (e) => {
          if (leave()) reject(e);
        },
      };
      if (signal.aborted) {
        reject(abortReason(signal));
        return this.onLeave(); // it never joined, but whoever counts on a leave may drop its hub
      }
      if (slot === undefined) this.forAny.add(waiter);
      else {
        let set = this.bySlot.get(slot);
        if (set === undefined) this.bySlot.set(slot, (set = new Set()));
        set.add(waiter);
      }
      this.count++;
      signal.addEventListener("abort", onAbort, { once: true });
    });
    return { result, settle: (r) => waiter.resolve(r), fail: (e) => waiter.reject(e) };
  }

  /** Gives `result` to every waiter for its slot and every waiter for any; returns how many. */
  notify(result: SlotResult): number {
    const forSlot = this.bySlot.get(result.slot);
    if (forSlot === undefined && this.forAny.size === 0) return 0;
    const settled = [...(forSlot ?? []), ...this.forAny];
    for (const waiter of settled) waiter.resolve(result);
    return settled.length;
  }

  /** Fails every waiter with `error`. */
  failAll(error: Error): void {
    const all = [...this.forAny];
    for (const set of this.bySlot.values()) all.push(...set);
    for (const waiter of all) waiter.reject(error);
  }
}
