/**
 * The in-memory Store, for unit tests: the same contract and conformance suite as LMDB,
 * nothing survives the process. Values are kept encoded with codec.ts, so every read
 * returns fresh objects and no caller can mutate stored data (and the codec is exercised).
 */
import { messageId, type Message } from "../core/message.js";
import type { SlotResult } from "../core/result.js";
import {
  decodeMessage,
  decodeResult,
  decodeEncodedResult,
  decodeEncodedScheduleEntry,
  decodeScheduleEntry,
  encodeMessage,
  encodeResult,
  encodeScheduleEntry,
} from "./codec.js";
import { checkLimit, snapshotList, storeClosed, unknownProcess } from "./guards.js";
import { checkId, checkSlot } from "./keys.js";
import type { ScheduleEntry, Snapshot, SnapshotWrite, Store, StoredModule } from "./store.js";

/** A new, empty in-memory store. Every call completes atomically before it resolves, and
 * calls never interleave (each runs to completion synchronously), so appends are serialised. */
export function createMemoryStore(): Store {
  const processes = new Map<string, Uint8Array>();
  const modules = new Map<string, Uint8Array>();
  const schedules = new Map<string, SlotMap>();
  const results = new Map<string, SlotMap>();
  const snapshots = new Map<string, SlotMap>();
  let closed = false;

  /** Runs `fn` as one call: rejects after close, turns throws into rejections. */
  const call = async <T>(fn: () => T): Promise<T> => {
    if (closed) throw storeClosed();
    return fn();
  };
  const slotsOf = (maps: Map<string, SlotMap>, processId: string): SlotMap => {
    let m = maps.get(processId);
    if (m === undefined) maps.set(processId, (m = new SlotMap()));
    return m;
  };
  const checkSnapshotWrite = ({ processId, snapshot, deleteBelow }: SnapshotWrite): void => {
    checkId(processId);
    checkSlot(snapshot.slot);
    if (deleteBelow !== undefined) checkSlot(deleteBelow);
  };
  const storeSnapshot = ({ processId, snapshot, deleteBelow }: SnapshotWrite): void => {
    slotsOf(snapshots, processId).set(snapshot.slot, snapshot.state.slice());
    if (deleteBelow !== undefined) snapshots.get(processId)?.deleteBelow(deleteBelow);
  };
  /** The encoded schedule entries of a range, its arguments checked as every store checks them. */
  const scheduleRange = (processId: string, from: bigint, to: bigint, limit: number | undefined): Uint8Array[] => {
    checkId(processId);
    checkSlot(from);
    checkSlot(to);
    checkLimit(limit);
    return schedules.get(processId)?.range(from, to, limit) ?? [];
  };
  const storeModule = (module: StoredModule): void => {
    checkId(module.id);
    if (!modules.has(module.id)) modules.set(module.id, module.bytes.slice());
  };

  return {
    createProcess: (processId, spawn, timestampMs, module) =>
      call(() => {
        checkId(processId);
        if (processes.has(processId)) return false;
        const definition = encodeMessage(spawn);
        const entry = encodeScheduleEntry({ slot: 0n, messageId: processId, timestampMs, message: spawn });
        if (module) storeModule(module);
        processes.set(processId, definition);
        slotsOf(schedules, processId).set(0n, entry);
        return true;
      }),
    getProcess: (processId) =>
      call(() => {
        checkId(processId);
        const bytes = processes.get(processId);
        return bytes === undefined ? undefined : decodeMessage(bytes);
      }),

    getModule: (id) =>
      call(() => {
        checkId(id);
        return modules.get(id)?.slice();
      }),

    appendSchedule: (processId, messages, timestampMs) =>
      call(() => {
        checkId(processId);
        if (!processes.has(processId)) throw unknownProcess(processId);
        const schedule = slotsOf(schedules, processId);
        let slot = schedule.last() ?? 0n;
        const entries = messages.map((message: Message): ScheduleEntry => ({
          slot: ++slot,
          messageId: messageId(message),
          timestampMs,
          message,
        }));
        entries.forEach((e) => checkSlot(e.slot));
        const encoded = entries.map(encodeScheduleEntry); // all or nothing: encode before writing
        entries.forEach((e, i) => schedule.set(e.slot, encoded[i]!));
        return entries;
      }),
    latestScheduledSlot: (processId) =>
      call(() => {
        checkId(processId);
        return schedules.get(processId)?.last();
      }),
    readSchedule: (processId, fromSlot, toSlot, limit) =>
      call(() => scheduleRange(processId, fromSlot, toSlot, limit).map((bytes) => decodeScheduleEntry(bytes))),
    readEncodedSchedule: (processId, fromSlot, toSlot, limit) =>
      call(() => scheduleRange(processId, fromSlot, toSlot, limit).map((bytes) => decodeEncodedScheduleEntry(bytes))),

    putResults: (list: SlotResult[], snapshots) =>
      call(() => {
        const encoded = list.map((r) => {
          checkId(r.processId);
          checkSlot(r.slot);
          return encodeResult(r);
        });
        const writes = snapshotList(snapshots);
        writes.forEach(checkSnapshotWrite);
        list.forEach((r, i) => slotsOf(results, r.processId).set(r.slot, encoded[i]!));
        writes.forEach(storeSnapshot);
      }),
    getResult: (processId, slot) =>
      call(() => {
        checkId(processId);
        checkSlot(slot);
        const bytes = results.get(processId)?.get(slot);
        return bytes === undefined ? undefined : decodeResult(bytes);
      }),
    readResults: (processId, fromSlot, toSlot, limit) =>
      call(() => {
        checkId(processId);
        checkSlot(fromSlot);
        checkSlot(toSlot);
        checkLimit(limit);
        return (results.get(processId)?.range(fromSlot, toSlot, limit) ?? []).map((bytes) => decodeResult(bytes));
      }),
    readEncodedResults: (processId, fromSlot, toSlot, limit) =>
      call(() => {
        checkId(processId);
        checkSlot(fromSlot);
        checkSlot(toSlot);
        checkLimit(limit);
        return (results.get(processId)?.range(fromSlot, toSlot, limit) ?? []).map((bytes) =>
          decodeEncodedResult(bytes),
        );
      }),
    latestResultSlot: (processId) =>
      call(() => {
        checkId(processId);
        return results.get(processId)?.last();
      }),

    putSnapshot: (write) =>
      call(() => {
        checkSnapshotWrite(write);
        storeSnapshot(write);
      }),
    latestSnapshot: (processId, atOrBelow) =>
      call((): Snapshot | undefined => {
        checkId(processId);
        checkSlot(atOrBelow);
        const slot = snapshots.get(processId)?.lastAtOrBelow(atOrBelow);
        const state = slot === undefined ? undefined : snapshots.get(processId)?.get(slot);
        return slot === undefined || state === undefined ? undefined : { slot, state: state.slice() };
      }),
    latestSnapshotSlot: (processId, atOrBelow) =>
      call(() => {
        checkId(processId);
        checkSlot(atOrBelow);
        return snapshots.get(processId)?.lastAtOrBelow(atOrBelow);
      }),

    close: async () => {
      closed = true;
    },
  };
}

/** Values by bigint slot with the slots kept sorted, so ranges cost O(log n + k) even
 * when slots are sparse (2^53 + 7 next to 1). Appends at the end are O(1). */
class SlotMap {
  private readonly slots: bigint[] = [];
  private readonly values = new Map<bigint, Uint8Array>();

  get(slot: bigint): Uint8Array | undefined {
    return this.values.get(slot);
  }
  set(slot: bigint, value: Uint8Array): void {
    if (!this.values.has(slot)) this.slots.splice(this.lowerBound(slot), 0, slot);
    this.values.set(slot, value);
  }
  last(): bigint | undefined {
    return this.slots[this.slots.length - 1];
  }
  lastAtOrBelow(slot: bigint): bigint | undefined {
    const i = this.lowerBound(slot + 1n);
    return i === 0 ? undefined : this.slots[i - 1];
  }
  range(from: bigint, to: bigint, limit = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = this.lowerBound(from); i < this.slots.length && out.length < limit; i++) {
      const slot = this.slots[i]!;
      if (slot > to) break;
      out.push(this.values.get(slot)!);
    }
    return out;
  }
  deleteBelow(slot: bigint): void {
    const removed = this.slots.splice(0, this.lowerBound(slot));
    for (const s of removed) this.values.delete(s);
  }
  /** The index of the first slot ≥ `slot`. */
  private lowerBound(slot: bigint): number {
    let lo = 0;
    let hi = this.slots.length;
    if (hi > 0 && this.slots[hi - 1]! < slot) return hi; // the common case: appending
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.slots[mid]! < slot) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
