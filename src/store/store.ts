/**
 * The Store: everything procworker keeps durably. Three implementations share this contract
 * and one conformance suite (test/unit/store/conformance.ts): LMDB on disk (the default),
 * PostgreSQL (several nodes on one database) and in memory (unit tests). Only src/store
 * knows how the data is laid out.
 *
 * Guarantees every implementation gives:
 * - every write resolves only once it is durable (for the in-memory store: visible);
 * - a multi-message append is one atomic write, gap-free, slots assigned latest+1, +2, …;
 * - appends to one process are serialised (two concurrent appends never share a slot),
 *   also across nodes sharing one PostgreSQL;
 * - slots are bigint end to end and round-trip exactly above 2^53.
 */
import type { Message } from "../core/message.js";
import type { SlotResult } from "../core/result.js";

/** One durable schedule entry: a message at a slot. Slot 0 is the spawn message. */
export interface ScheduleEntry {
  slot: bigint;
  messageId: string;
  timestampMs: number;
  message: Message;
}

/** A schedule entry whose message is left in its stored canonical encoding
 * (core/message canonicalBytes; checked to be well formed, not decoded), for a device that
 * would only encode it again (wasm@1.0 hands it to its thread as it is). */
export interface EncodedScheduleEntry {
  slot: bigint;
  messageId: string;
  canonical: Uint8Array;
}

/** A stored result left in the store's encoding (codec.ts): what a stream that only sends
 * it on needs, without the objects of a decoded SlotResult. */
export interface EncodedResult {
  slot: bigint;
  /** The whole stored value, checked well formed; a copy the store does not reuse. */
  value: Uint8Array;
}

/** A device state saved after `slot` was computed. */
export interface Snapshot {
  slot: bigint;
  state: Uint8Array;
}

/**
 * A snapshot to store. The store takes ownership of `snapshot.state` (a whole memory can be
 * large, so it is not copied): the caller must not modify it afterwards. With `deleteBelow`,
 * the process's snapshots with a lower slot are deleted in the same atomic write (retention
 * without a second durable write).
 */
export interface SnapshotWrite {
  processId: string;
  snapshot: Snapshot;
  deleteBelow?: bigint;
}

/** A module stored by its id (base64url SHA-256 of the bytes). */
export interface StoredModule {
  id: string;
  bytes: Uint8Array;
}

export interface Store {
  /** Atomically stores the spawn message as the process definition and as schedule slot 0
   * (message id = process id), plus the module if given. Idempotent: returns false when the
   * process already existed (nothing is written then). */
  createProcess(processId: string, spawn: Message, timestampMs: number, module?: StoredModule): Promise<boolean>;
  /** The spawn message of a process, or undefined if unknown. */
  getProcess(processId: string): Promise<Message | undefined>;

  /** The bytes of a module stored by createProcess, or undefined. */
  getModule(id: string): Promise<Uint8Array | undefined>;

  /** Appends messages at latest+1, latest+2, … in one atomic, durable write and returns
   * their entries (message ids computed with core/message messageId). Rejects with a
   * `not_found` ProcworkerError for an unknown process; an empty list is a no-op. */
  appendSchedule(processId: string, messages: Message[], timestampMs: number): Promise<ScheduleEntry[]>;
  /** The highest scheduled slot (0 right after spawn), or undefined for an unknown process. */
  latestScheduledSlot(processId: string): Promise<bigint | undefined>;
  /** Entries from `fromSlot` to `toSlot` inclusive, in slot order (missing ones skipped),
   * at most `limit` of them. */
  readSchedule(processId: string, fromSlot: bigint, toSlot: bigint, limit?: number): Promise<ScheduleEntry[]>;
  /** readSchedule with each message left encoded (EncodedScheduleEntry); a malformed entry
   * rejects the read as readSchedule's would. */
  readEncodedSchedule(
    processId: string,
    fromSlot: bigint,
    toSlot: bigint,
    limit?: number,
  ): Promise<EncodedScheduleEntry[]>;

  /** Stores results (any processes, any slots) in one atomic, durable write; overwrites, so
   * writing a result again (a replay, a second owner) is harmless. With `snapshots`, those
   * snapshots (each with its retention, applied in the order given) are part of the same
   * write: a catch-up that crosses snapshot boundaries costs one durable commit, not one more
   * per boundary. */
  putResults(results: SlotResult[], snapshots?: SnapshotWrite | readonly SnapshotWrite[]): Promise<void>;
  getResult(processId: string, slot: bigint): Promise<SlotResult | undefined>;
  /** Results from `fromSlot` to `toSlot` inclusive, in slot order, at most `limit` of them. */
  readResults(processId: string, fromSlot: bigint, toSlot: bigint, limit?: number): Promise<SlotResult[]>;
  /** readResults with each result left encoded (EncodedResult); a malformed result rejects
   * the read as readResults' would. */
  readEncodedResults(processId: string, fromSlot: bigint, toSlot: bigint, limit?: number): Promise<EncodedResult[]>;
  /** The highest slot with a stored result, or undefined if none. */
  latestResultSlot(processId: string): Promise<bigint | undefined>;

  /** Stores a snapshot durably (see SnapshotWrite); overwrites one at the same slot. */
  putSnapshot(write: SnapshotWrite): Promise<void>;
  /** The snapshot with the highest slot ≤ `atOrBelow`, or undefined. */
  latestSnapshot(processId: string, atOrBelow: bigint): Promise<Snapshot | undefined>;
  /** The slot of that snapshot, without reading its state. */
  latestSnapshotSlot(processId: string, atOrBelow: bigint): Promise<bigint | undefined>;

  /** Flushes and closes; later calls reject. Idempotent. */
  close(): Promise<void>;
}
