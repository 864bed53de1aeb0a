/**
 * Snapshots in PostgreSQL, kept in chunks: a `snapshots` row (process, slot, size) and the
 * state as `snapshot_chunks` rows of at most SNAPSHOT_CHUNK_BYTES. node-postgres sends a
 * Buffer parameter in binary, but returns bytea only as text (its binary result mode decodes
 * rows as UTF-8, which corrupts bytes), so a state read in one piece would cost a string
 * larger than the state plus the protocol buffer holding it. Chunk by chunk, a read costs
 * the state plus one chunk, and each chunk comes as base64 (decoded straight into the state:
 * half the bytes of hex, and Node decodes it several times faster). Writing goes in the
 * caller's transaction; reading uses its own repeatable-read transaction, so every chunk
 * belongs to the snapshot row it read.
 */
import type { Pool, PoolClient } from "pg";
import { ProcworkerError } from "../core/errors.js";
import { SCHEMA, SNAPSHOT_CHUNK_BYTES } from "./postgres-migrations.js";
import { fromDbSlot, toDbSlot } from "./postgres-slots.js";
import { inTransaction } from "./postgres-transaction.js";
import type { Snapshot, SnapshotWrite } from "./store.js";

/** A checked snapshot write, ready to run inside a transaction. */
export type PreparedSnapshot = (client: PoolClient) => Promise<void>;

/** Checks a snapshot write now (slots, so a bad one rejects before anything is written) and
 * returns what stores it, and its retention, inside a transaction. The state is not copied
 * (the store owns it, see SnapshotWrite); each chunk is sent as a view of it. */
export function prepareSnapshot({ processId, snapshot, deleteBelow }: SnapshotWrite): PreparedSnapshot {
  const slot = toDbSlot(snapshot.slot);
  const below = deleteBelow === undefined ? undefined : toDbSlot(deleteBelow);
  const state = snapshot.state;
  return async (client) => {
    const { rows } = await client.query<{ inserted: boolean }>(
      `INSERT INTO ${SCHEMA}.snapshots (process_id, slot, size) VALUES ($1, $2, $3)
       ON CONFLICT (process_id, slot) DO UPDATE SET size = EXCLUDED.size
       RETURNING (xmax = 0) AS inserted`,
      [processId, slot, state.byteLength],
    );
    if (rows[0]?.inserted !== true) {
      // An overwrite: the row is locked now; drop the old state's chunks.
      await client.query(`DELETE FROM ${SCHEMA}.snapshot_chunks WHERE process_id = $1 AND slot = $2`, [
        processId,
        slot,
      ]);
    }
    for (let chunk = 0, at = 0; at < state.byteLength; chunk++, at += SNAPSHOT_CHUNK_BYTES) {
      await client.query(
        `INSERT INTO ${SCHEMA}.snapshot_chunks (process_id, slot, chunk, bytes) VALUES ($1, $2, $3, $4)`,
        [processId, slot, chunk, state.subarray(at, at + SNAPSHOT_CHUNK_BYTES)],
      );
    }
    if (below !== undefined) {
      // Their chunks go with them (ON DELETE CASCADE).
      await client.query(`DELETE FROM ${SCHEMA}.snapshots WHERE process_id = $1 AND slot < $2`, [processId, below]);
    }
  };
}

/** The snapshot of `processId` with the highest slot ≤ `atOrBelow` (a stored slot), read
 * whole into one fresh buffer, or undefined. */
export function readLatestSnapshot(pool: Pool, processId: string, atOrBelow: string): Promise<Snapshot | undefined> {
  return inTransaction(
    pool,
    async (client) => {
      const { rows } = await client.query<{ slot: string; size: string }>(
        `SELECT slot, size FROM ${SCHEMA}.snapshots WHERE process_id = $1 AND slot <= $2
         ORDER BY slot DESC LIMIT 1`,
        [processId, atOrBelow],
      );
      const head = rows[0];
      if (head === undefined) return undefined;
      const size = Number(head.size);
      const state = Buffer.alloc(size);
      const damaged = () =>
        new ProcworkerError("internal", `snapshot of ${processId} at ${fromDbSlot(head.slot)} is damaged`);
      for (let chunk = 0, at = 0; at < size; chunk++) {
        const part = await client.query<{ b64: string; length: number }>(
          `SELECT encode(bytes, 'base64') AS b64, length(bytes) AS length FROM ${SCHEMA}.snapshot_chunks
           WHERE process_id = $1 AND slot = $2 AND chunk = $3`,
          [processId, head.slot, chunk],
        );
        const row = part.rows[0];
        if (row === undefined || row.length === 0 || at + row.length > size) throw damaged();
        // PostgreSQL breaks base64 into lines; Node skips the line breaks.
        if (state.write(row.b64, at, "base64") !== row.length) throw damaged();
        at += row.length;
      }
      return { slot: fromDbSlot(head.slot), state: new Uint8Array(state.buffer, state.byteOffset, size) };
    },
    { readOnlySnapshot: true },
  );
}
