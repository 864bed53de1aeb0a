/**
 * The PostgreSQL schema, as numbered migrations applied in order at start. The versions
 * applied are recorded in `procworker.schema_migrations`; each start applies the missing
 * ones in one transaction that first takes a transaction-level advisory lock, so nodes
 * starting together against one database migrate exactly once and the others wait, then
 * find nothing to do. Never edit a released migration: add the next one.
 */
import type { Pool, PoolClient } from "pg";
import { ProcworkerError } from "../core/errors.js";

/** The schema every table lives in. */
export const SCHEMA = "procworker";

/** The advisory lock (single-bigint key space) held while migrating: "procwmig" in ASCII.
 * Other advisory locks of procworker use other keys. */
export const MIGRATION_LOCK_KEY = "8102661152589048167";

/** The size of one stored snapshot chunk: a state is kept as rows of at most this many bytes,
 * so neither end ever holds a whole state as one protocol message or one hex string. */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Every migration, in order. Slots are stored as `slot − 2^63` (postgres-slots.ts); ids are
 * text in the "C" collation (bytewise, fast equality). */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "processes, modules, schedule, results, snapshots",
    sql: `
      CREATE TABLE ${SCHEMA}.processes (
        process_id text COLLATE "C" PRIMARY KEY,
        definition bytea NOT NULL,
        latest_slot bigint NOT NULL
      );
      CREATE TABLE ${SCHEMA}.modules (
        module_id text COLLATE "C" PRIMARY KEY,
        bytes bytea NOT NULL
      );
      CREATE TABLE ${SCHEMA}.schedule (
        process_id text COLLATE "C" NOT NULL,
        slot bigint NOT NULL,
        entry bytea NOT NULL,
        PRIMARY KEY (process_id, slot)
      );
      CREATE TABLE ${SCHEMA}.results (
        process_id text COLLATE "C" NOT NULL,
        slot bigint NOT NULL,
        result bytea NOT NULL,
        PRIMARY KEY (process_id, slot)
      );
      CREATE TABLE ${SCHEMA}.snapshots (
        process_id text COLLATE "C" NOT NULL,
        slot bigint NOT NULL,
        size bigint NOT NULL,
        PRIMARY KEY (process_id, slot)
      );
      CREATE TABLE ${SCHEMA}.snapshot_chunks (
        process_id text COLLATE "C" NOT NULL,
        slot bigint NOT NULL,
        chunk integer NOT NULL,
        bytes bytea NOT NULL,
        PRIMARY KEY (process_id, slot, chunk),
        FOREIGN KEY (process_id, slot) REFERENCES ${SCHEMA}.snapshots ON DELETE CASCADE
      );
    `,
  },
];

/** Brings the database's schema up to the latest migration; safe to run from several nodes
 * at once. Refuses (`internal`) a database migrated by a newer procworker. */
export async function migrate(pool: Pool): Promise<void> {
  const client = await pool.connect();
  let failure: unknown;
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${SCHEMA}.schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    await applyMissing(client);
    await client.query("COMMIT");
  } catch (error) {
    failure = error;
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    // A client whose transaction failed may be broken: destroy it rather than pool it.
    client.release(failure instanceof Error ? failure : undefined);
  }
}

async function applyMissing(client: PoolClient): Promise<void> {
  const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${SCHEMA}.schema_migrations`);
  const applied = new Set(rows.map((r) => r.version));
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  const newer = [...applied].filter((v) => v > latest);
  if (newer.length > 0) {
    throw new ProcworkerError(
      "internal",
      `the database schema is at version ${Math.max(...newer)}, newer than this procworker knows (${latest})`,
    );
  }
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    await client.query(migration.sql);
    await client.query(`INSERT INTO ${SCHEMA}.schema_migrations (version, name) VALUES ($1, $2)`, [
      migration.version,
      migration.name,
    ]);
  }
}
