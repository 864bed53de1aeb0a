/**
 * The LMDB Store (the default, on disk), on lmdb-js. One database, binary keys laid out by
 * keys.ts, binary values encoded by codec.ts; nothing else in procworker knows LMDB.
 *
 * Durability: writes use lmdb-js defaults, with `noSync` off and `overlappingSync` on
 * (Linux, macOS). In that mode `mdb_txn_commit` releases the write lock, then fdatasyncs the
 * data file and writes the synced meta page before it returns, and lmdb-js resolves a write
 * promise only after the commit returns: so every promise here resolves once the write is
 * on disk (checked with strace: fdatasync precedes the resolution). `separateFlushed` stays
 * off, since it would resolve on commit, before the flush.
 *
 * Atomicity: each write is one `db.transaction(cb)` (results: one `db.batch(cb)`, a block of
 * puts the write thread never splits); lmdb-js runs the callbacks one at a
 * time inside the single write transaction, so a callback that reads the latest slot and
 * writes after it can never interleave with another. A callback that throws does not roll
 * back its own puts, so every callback checks and encodes everything before its first put.
 * Inside a transaction callback lmdb-js applies `put`/`remove` at once, as part of that
 * transaction; the promises they return are the transaction's: they reject when its commit
 * fails, so each gets a no-op handler (`inTxn`), else a failed commit (a full disk) would be an
 * unhandled rejection, which ends a Node process.
 *
 * Failures: every call's error goes through `storeFailure` (the one place that classifies
 * them). lmdb-js grows the map whenever it fills (its LMDB is patched to resize on demand,
 * and no option turns that off), so MDB_MAP_FULL does not occur in practice; a full disk shows
 * up as a failed commit whose cause is EIO (LMDB reports a short write so) or ENOSPC. When a
 * write fails with an I/O error, the free space of the store's file system decides: below
 * FULL_BELOW_BYTES it is a full disk (resource_exhausted), else an I/O error (unavailable).
 */
import { statfs } from "node:fs/promises";
import { open, type Database, type Key } from "lmdb";
import { ProcworkerError, StoreFailureError } from "../core/errors.js";
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
import { lmdbValues, type ValueDecoder } from "./lmdb-values.js";
import {
  KeyKind,
  MAX_SLOT,
  checkSlot,
  idKey,
  prefixKey,
  slotKey,
  slotKeyAfter,
  slotOfKey,
  type SlotKind,
} from "./keys.js";
import type { ScheduleEntry, Snapshot, SnapshotWrite, Store, StoredModule } from "./store.js";

/** Where and how big: `path` is a directory (created if missing). */
export interface LmdbStoreOptions {
  path: string;
  /** LMDB's initial map size; lmdb-js grows the map as needed whatever this is. */
  mapSizeBytes?: number;
  /** Free bytes of the store's file system, asked when a write fails with an I/O error
   * (default: statfs of `path`). */
  freeBytes?: () => Promise<number>;
}

/** Free space below which a failed write is taken for a full disk. */
export const FULL_BELOW_BYTES = 64 * 1024 * 1024;

/** LMDB's code for a full map (lmdb-js reports LMDB codes as negative numbers). */
const MDB_MAP_FULL = -30792;
/** Errnos (lmdb-js reports them as positive numbers, Node as names) that mean "no room". */
const NO_ROOM = new Map<number | string, string>([
  [MDB_MAP_FULL, "MDB_MAP_FULL"],
  [28, "ENOSPC"],
  [122, "EDQUOT"],
  [27, "EFBIG"],
  ["ENOSPC", "ENOSPC"],
  ["EDQUOT", "EDQUOT"],
  ["EFBIG", "EFBIG"],
]);

/**
 * What a failed LMDB (or file system) operation means to a client, decided in one place:
 * no room (MDB_MAP_FULL, ENOSPC, EDQUOT, EFBIG) or an I/O error with less than
 * FULL_BELOW_BYTES free is `resource_exhausted`; any other system or LMDB error is
 * `unavailable`. Both are StoreFailureErrors (retried by whoever waits); the message names
 * the code only, never a path. Anything else (a ProcworkerError, a bug) is returned as it is.
 * `freeBytes` is the file system's free space, if known.
 */
export function storeFailure(cause: unknown, freeBytes?: number): unknown {
  if (cause instanceof ProcworkerError || !(cause instanceof Error)) return cause;
  const code = (cause as { code?: unknown }).code;
  if (typeof code !== "number" && !(typeof code === "string" && /^E[A-Z]+$/.test(code))) return cause;
  const name = NO_ROOM.get(code);
  if (name !== undefined) return new StoreFailureError("resource_exhausted", `the store is full (${name})`, { cause });
  const label = typeof code === "number" ? cause.message : code;
  if (freeBytes !== undefined && freeBytes < FULL_BELOW_BYTES) {
    return new StoreFailureError("resource_exhausted", `the store's disk is full (${label})`, { cause });
  }
  return new StoreFailureError("unavailable", `the store failed (${label}); retry later`, { cause });
}

/** The cause of an lmdb-js failure: a failed commit rejects with a generic error whose
 * `commitError` promise rejects with the cause (and must be handled, or it ends the process). */
async function causeOf(error: unknown): Promise<unknown> {
  const commitError = (error as { commitError?: unknown } | null)?.commitError;
  if (!(commitError instanceof Promise)) return error;
  const settled = commitError.then(
    () => error,
    (cause: unknown) => cause,
  );
  // lmdb-js rejects it in the same callback as the commit, but not when the status it got
  // carries no error: then the generic error is all there is.
  return Promise.race([settled, new Promise<unknown>((resolve) => setImmediate(() => resolve(error)))]);
}

/** Marks a promise lmdb-js returns inside a transaction as handled (see the header). */
function inTxn(promise: Promise<unknown>): void {
  promise.catch(() => undefined);
}

type Db = Database<Uint8Array, Key>;

/** Opens (or creates) the store at `opts.path`. Every write resolves once durable on disk;
 * appends are atomic and serialised; `close()` waits for writes in flight. */
export async function openLmdbStore(opts: LmdbStoreOptions): Promise<Store> {
  const values = lmdbValues();
  const db: Db = open<Uint8Array, Key>({
    path: opts.path,
    // Always a directory: lmdb-js would otherwise treat a path with a dot ("data.v1",
    // mkdtemp's "tmp.x1y2") as a single file.
    noSubdir: false,
    keyEncoding: "binary",
    encoding: "binary",
    // Values are bytes either way; this decoder reads them without a copy each (lmdb-values.ts).
    encoder: values.encoder,
    noSync: false,
    // Every write here is an explicit transaction, so batching writes of one event turn buys
    // nothing; and its batch start makes a commit promise nobody can handle, which a failed
    // commit (a full disk) rejects: an unhandled rejection ends a Node process.
    eventTurnBatching: false,
    ...(opts.mapSizeBytes === undefined ? {} : { mapSize: opts.mapSizeBytes }),
  });
  let closing: Promise<void> | undefined;
  // lmdb-js's close() makes puts throw at once, even inside transactions already queued,
  // so close() first waits for the writes this store started.
  const inFlight = new Set<Promise<unknown>>();

  const freeBytes =
    opts.freeBytes ??
    (async () => {
      const fs = await statfs(opts.path);
      return fs.bavail * fs.bsize;
    });
  /** A failure of `fn` as a client sees it (see storeFailure). */
  const failure = async (error: unknown): Promise<unknown> => {
    if (error instanceof ProcworkerError) return error;
    const cause = await causeOf(error);
    const classified = storeFailure(cause);
    if (!(classified instanceof StoreFailureError) || classified.code !== "unavailable") return classified;
    return storeFailure(cause, await freeBytes().catch(() => undefined));
  };
  /** Runs `fn` as one call: rejects after close, turns throws into rejections, classifies
   * failures. */
  const call = async <T>(fn: () => T | Promise<T>): Promise<T> => {
    if (closing) throw storeClosed();
    try {
      return await fn();
    } catch (error) {
      throw await failure(error);
    }
  };
  /** Runs `fn` in the write transaction; resolves with its value once durable. */
  const write = <T>(fn: () => T): Promise<T> =>
    call(() => {
      const done = db.transaction(fn);
      inFlight.add(done);
      const forget = () => inFlight.delete(done);
      done.then(forget, forget);
      return done;
    });
  /**
   * Runs the puts and removes of `fn` as one atomic block of lmdb-js's write thread
   * (`db.batch`: a block is never split across transactions), so the main thread only queues
   * them; resolves once durable. `fn` must not read: it runs outside any transaction.
   */
  const writeBlock = (fn: () => void): Promise<void> =>
    call(async () => {
      const done = db.batch(fn);
      inFlight.add(done);
      const forget = () => inFlight.delete(done);
      done.then(forget, forget);
      await done;
    });
  /** The keys of the snapshots of a process stored below a slot (committed ones). */
  const snapshotKeysBelow = (processId: string, belowSlot: bigint): Key[] =>
    Array.from(
      db.getKeys({
        start: prefixKey(KeyKind.snapshot, processId),
        end: slotKey(KeyKind.snapshot, processId, belowSlot),
      }),
    );
  /** Slot records from..to inclusive, in slot order, at most `limit`, each decoded straight
   * from lmdb-js's read buffer. */
  const range = <T>(
    kind: SlotKind,
    processId: string,
    from: bigint,
    to: bigint,
    limit: number | undefined,
    decode: ValueDecoder<T>,
  ): T[] => {
    const opts = { start: slotKey(kind, processId, from), end: slotKeyAfter(kind, processId, to), limit };
    if (from > to || limit === 0) return [];
    return values.readWith(decode, () => {
      const out: T[] = [];
      for (const { value } of db.getRange(opts)) out.push(value as T);
      return out;
    });
  };
  /** One value, decoded straight from lmdb-js's read buffer, or undefined. */
  const getDecoded = <T>(key: Key, decode: ValueDecoder<T>): T | undefined =>
    values.readWith(decode, () => db.get(key) as T | undefined);
  /** A descending range over the slot records of `kind` at or below `atOrBelow`. Reverse
   * ranges run from `start` down to `end` (exclusive); the bare id prefix sorts before every
   * slot key of this process and after every key of any other. */
  const lastOpts = (kind: SlotKind, processId: string, atOrBelow: bigint) => ({
    start: slotKeyAfter(kind, processId, atOrBelow),
    end: prefixKey(kind, processId),
    reverse: true,
  });
  /** The highest slot of `kind` at or below `atOrBelow`, or undefined. */
  const lastSlot = (kind: SlotKind, processId: string, atOrBelow: bigint): bigint | undefined => {
    for (const key of db.getKeys({ ...lastOpts(kind, processId, atOrBelow), limit: 1 }))
      return slotOfKey(key as Uint8Array);
    return undefined;
  };
  /** Inside a write transaction: removes the snapshots of a process below a slot. */
  const removeSnapshotsBelow = (processId: string, belowSlot: bigint): void => {
    const opts = {
      start: prefixKey(KeyKind.snapshot, processId),
      end: slotKey(KeyKind.snapshot, processId, belowSlot),
    };
    // Collect first: removing under a live cursor is not something to rely on.
    const keys = Array.from(db.getKeys(opts));
    for (const key of keys) inTxn(db.remove(key));
  };
  /** Checks a snapshot write now and returns what writes it inside a transaction. The store
   * takes ownership of the state (see SnapshotWrite): no copy of what may be a whole 64 MiB
   * memory. */
  const prepareSnapshot = ({ processId, snapshot, deleteBelow }: SnapshotWrite): (() => void) => {
    const key = slotKey(KeyKind.snapshot, processId, snapshot.slot);
    if (deleteBelow !== undefined) checkSlot(deleteBelow);
    const state = snapshot.state;
    return () => {
      inTxn(db.put(key, state));
      if (deleteBelow !== undefined) removeSnapshotsBelow(processId, deleteBelow);
    };
  };
  const putModuleInTxn = (key: Buffer, module: StoredModule): void => {
    if (!db.doesExist(key)) inTxn(db.put(key, module.bytes));
  };

  return {
    createProcess: (processId, spawn, timestampMs, module) =>
      call(() => {
        const procKey = idKey(KeyKind.process, processId);
        const entryKey = slotKey(KeyKind.schedule, processId, 0n);
        // The callback runs later, in the write transaction: copy what the caller may mutate.
        const stored = module && {
          key: idKey(KeyKind.module, module.id),
          module: { id: module.id, bytes: new Uint8Array(module.bytes) },
        };
        const definition = encodeMessage(spawn);
        const entry = encodeScheduleEntry({ slot: 0n, messageId: processId, timestampMs, message: spawn });
        return write(() => {
          if (db.doesExist(procKey)) return false;
          if (stored) putModuleInTxn(stored.key, stored.module);
          inTxn(db.put(procKey, definition));
          inTxn(db.put(entryKey, entry));
          return true;
        });
      }),
    getProcess: (processId) =>
      call(() => {
        return getDecoded(idKey(KeyKind.process, processId), decodeMessage);
      }),

    // A plain get returns a fresh copy of the bytes (lmdb-values.ts).
    getModule: (id) => call(() => db.get(idKey(KeyKind.module, id))),

    appendSchedule: (processId, messages, timestampMs) =>
      call(async () => {
        const procKey = idKey(KeyKind.process, processId);
        // The callback runs later, in the write transaction: copy the messages now, and
        // compute their ids (which do not depend on the slot) outside the write lock.
        const copies = messages.map((m): Message => ({ tags: { ...m.tags }, data: m.data.slice() }));
        const ids = copies.map((m) => messageId(m));
        const written = await write((): ScheduleEntry[] | undefined => {
          if (!db.doesExist(procKey)) return undefined;
          let slot = lastSlot(KeyKind.schedule, processId, MAX_SLOT) ?? 0n;
          const entries = copies.map((message: Message, i): ScheduleEntry => ({
            slot: ++slot,
            messageId: ids[i]!,
            timestampMs,
            message,
          }));
          const encoded = entries.map(
            (e) => [slotKey(KeyKind.schedule, processId, e.slot), encodeScheduleEntry(e)] as const,
          );
          for (const [key, value] of encoded) inTxn(db.put(key, value));
          return entries;
        });
        if (written === undefined) throw unknownProcess(processId);
        return written;
      }),
    latestScheduledSlot: (processId) => call(() => lastSlot(KeyKind.schedule, processId, MAX_SLOT)),
    readSchedule: (processId, fromSlot, toSlot, limit) =>
      call(() => {
        checkLimit(limit);
        return range(KeyKind.schedule, processId, fromSlot, toSlot, limit, decodeScheduleEntry);
      }),
    readEncodedSchedule: (processId, fromSlot, toSlot, limit) =>
      call(() => {
        checkLimit(limit);
        return range(KeyKind.schedule, processId, fromSlot, toSlot, limit, decodeEncodedScheduleEntry);
      }),

    putResults: (results: SlotResult[], snapshots) =>
      call(() => {
        const keys = results.map((r) => slotKey(KeyKind.result, r.processId, r.slot));
        const values = results.map(encodeResult);
        const writes = snapshotList(snapshots);
        const snapshotKeys = writes.map((w) => slotKey(KeyKind.snapshot, w.processId, w.snapshot.slot));
        // Retention: the snapshots stored now, and those of this write, below each deleteBelow.
        const removals = writes.flatMap(({ processId, deleteBelow }, i) => {
          if (deleteBelow === undefined) return [];
          checkSlot(deleteBelow);
          const earlier = writes.slice(0, i).filter((w) => w.processId === processId && w.snapshot.slot < deleteBelow);
          return [
            ...snapshotKeysBelow(processId, deleteBelow),
            ...earlier.map((w) => snapshotKeys[writes.indexOf(w)]!),
          ];
        });
        return writeBlock(() => {
          for (let i = 0; i < keys.length; i++) inTxn(db.put(keys[i] as Buffer, values[i] as Uint8Array));
          writes.forEach((w, i) => inTxn(db.put(snapshotKeys[i] as Buffer, w.snapshot.state)));
          for (const key of removals) inTxn(db.remove(key));
        });
      }),
    getResult: (processId, slot) =>
      call(() => {
        return getDecoded(slotKey(KeyKind.result, processId, slot), decodeResult);
      }),
    readResults: (processId, fromSlot, toSlot, limit) =>
      call(() => {
        checkLimit(limit);
        return range(KeyKind.result, processId, fromSlot, toSlot, limit, decodeResult);
      }),
    readEncodedResults: (processId, fromSlot, toSlot, limit) =>
      call(() => {
        checkLimit(limit);
        return range(KeyKind.result, processId, fromSlot, toSlot, limit, decodeEncodedResult);
      }),
    latestResultSlot: (processId) => call(() => lastSlot(KeyKind.result, processId, MAX_SLOT)),

    putSnapshot: (snapshot) => call(() => write(prepareSnapshot(snapshot))),
    latestSnapshot: (processId, atOrBelow) =>
      call((): Snapshot | undefined => {
        const opts = { ...lastOpts(KeyKind.snapshot, processId, atOrBelow), limit: 1 };
        for (const key of db.getKeys(opts)) {
          // getBinary returns a fresh copy (getBinaryFast would reuse a buffer): the one copy.
          const state = db.getBinary(key);
          if (state !== undefined) {
            return {
              slot: slotOfKey(key as Uint8Array),
              state: new Uint8Array(state.buffer, state.byteOffset, state.byteLength),
            };
          }
        }
        return undefined;
      }),
    latestSnapshotSlot: (processId, atOrBelow) =>
      call(() => {
        checkSlot(atOrBelow);
        return lastSlot(KeyKind.snapshot, processId, atOrBelow);
      }),

    close: () =>
      (closing ??= (async () => {
        await Promise.allSettled(inFlight);
        await db.close();
      })()),
  };
}
