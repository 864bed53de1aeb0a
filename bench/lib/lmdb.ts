/**
 * The raw LMDB baselines: an lmdb-js environment opened the way src/store/lmdb-store.ts
 * opens it (binary keys and values, `noSync` off, so every write resolves once durable),
 * in its own temp dir.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open, type Database, type Key } from "lmdb";

export interface RawLmdb {
  db: Database<Uint8Array, Key>;
  /** A fresh 8-byte big-endian key. */
  key(): Buffer;
  close(): Promise<void>;
}

export async function openRawLmdb(): Promise<RawLmdb> {
  const path = await mkdtemp(join(tmpdir(), "procworker-bench-lmdb-"));
  const db = open<Uint8Array, Key>({ path, noSubdir: false, keyEncoding: "binary", encoding: "binary", noSync: false });
  let next = 0n;
  return {
    db,
    key() {
      const k = Buffer.alloc(8);
      k.writeBigUInt64BE(next++);
      return k;
    },
    async close() {
      await db.close();
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** One durable put in its own transaction (as a Schedule of one message is one write). */
export function durablePut(raw: RawLmdb, value: Uint8Array): Promise<unknown> {
  const key = raw.key();
  return raw.db.transaction(() => raw.db.put(key, value));
}

/** `count` values written in transactions of `batch`, each awaited before the next. */
export async function batchedPuts(raw: RawLmdb, count: number, batch: number, value: Uint8Array): Promise<void> {
  for (let done = 0; done < count; done += batch) {
    const n = Math.min(batch, count - done);
    const keys = Array.from({ length: n }, () => raw.key());
    await raw.db.transaction(() => {
      for (const k of keys) void raw.db.put(k, value);
    });
  }
}
