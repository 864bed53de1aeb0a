/**
 * The PostgreSQL Store, on node-postgres with a connection pool: the same contract and
 * conformance suite as LMDB, for several nodes sharing one database. Values are encoded with
 * codec.ts as in LMDB; the tables, the slot mapping and the guarantees are in docs/store.md.
 *
 * Durability: a write resolves only after its COMMIT returned. Every connection runs with
 * `synchronous_commit` at least `on` (switched on where the server has it off), so COMMIT
 * returns once the commit record is flushed (and, with synchronous standbys, replicated).
 *
 * Atomicity across nodes: each write is one statement or one transaction. An append locks
 * its process's row (`UPDATE … RETURNING latest_slot`), so appends to one process from any
 * number of nodes are serialised by PostgreSQL and never share a slot or leave a gap; within
 * a node, concurrent appends to one process share a transaction (postgres-appends.ts).
 * Results are upserts, so two owners writing one slot both succeed.
 *
 * Errors: everything the driver throws goes through postgres-errors.ts (`unavailable` when
 * the server is gone; the pool reconnects by itself when it is back).
 */
import { Pool, type PoolClient, type QueryResultRow } from "pg";
import { ProcworkerError, invalidArgument } from "../core/errors.js";
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
import { checkLimit, snapshotList, storeClosed } from "./guards.js";
import { checkId } from "./keys.js";
import { storeError } from "./postgres-errors.js";
import { SCHEMA, migrate } from "./postgres-migrations.js";
import { createAppender } from "./postgres-appends.js";
import { prepareSnapshot, readLatestSnapshot } from "./postgres-snapshots.js";
import { ROWS_PER_STATEMENT, placeholders, statementBatches } from "./postgres-sql.js";
import { fromDbSlot, toDbSlot } from "./postgres-slots.js";
import { inTransaction } from "./postgres-transaction.js";
import type { Store } from "./store.js";

/** Where the database is and how many connections to use. */
export interface PostgresStoreOptions {
  /** A connection URL, `postgres://user:password@host:port/database` (libpq-style
   * parameters such as `sslmode` in the query string). */
  url: string;
  /** The most connections this store opens at once; 10 when omitted. */
  maxConnections?: number;
  /** How long getting a connection may take before a call fails `unavailable`; 10 s. */
  connectTimeoutMs?: number;
}

/** Turns on `synchronous_commit` for a new connection if the server has it off. */
const SYNCHRONOUS_COMMIT = `SELECT set_config('synchronous_commit', 'on', false)
  WHERE current_setting('synchronous_commit') = 'off'`;

/** Connects, creates or migrates the schema (safe when several nodes start at once), and
 * returns the store. Rejects `unavailable` when the database cannot be reached. */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<Store> {
  const pool = new Pool({
    connectionString: opts.url,
    max: opts.maxConnections ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    // A server that vanished without closing the connection is found out by TCP keepalive.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // pg-pool awaits this before handing a new connection out (its types say `void`).
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    onConnect: async (client) => {
      await client.query(SYNCHRONOUS_COMMIT);
    },
  });
  // An idle connection that breaks (the server restarts) is dropped by the pool, which
  // reports it here; the next call opens a new one or fails with `unavailable`.
  pool.on("error", () => undefined);
  try {
    await migrate(pool);
  } catch (error) {
    await pool.end();
    // Said at start only, never to a client: the cause's own words help the operator.
    const { code, message } = storeError(error);
    const text = `cannot open the PostgreSQL store at ${where(opts.url)}: ${message}${detail(error)}`;
    throw new ProcworkerError(code, text, { cause: error });
  }

  const append = createAppender(pool);
  let closing: Promise<void> | undefined;
  const inFlight = new Set<Promise<unknown>>();

  /** Runs `fn` as one call: rejects after close, maps every failure to a ProcworkerError,
   * and is waited for by close(). `fn` checks and encodes its arguments before its first
   * await, so a caller changing them afterwards changes nothing stored. */
  const call = <T>(fn: () => Promise<T>): Promise<T> => {
    if (closing) return Promise.reject(storeClosed());
    const done = fn().catch((error: unknown) => {
      throw storeError(error);
    });
    inFlight.add(done);
    const forget = () => inFlight.delete(done);
    done.then(forget, forget);
    return done;
  };
  const rowsOf = async <R extends QueryResultRow>(sql: string, values: unknown[]): Promise<R[]> =>
    (await pool.query<R>(sql, values)).rows;
  /** The parameters of a range read, checked. */
  const rangeParams = (processId: string, fromSlot: bigint, toSlot: bigint, limit: number | undefined) => {
    checkPgId(processId);
    checkLimit(limit);
    return [processId, toDbSlot(fromSlot), toDbSlot(toSlot), limit ?? null];
  };
  /** The values of `column` in `table` (schedule entries or results) from..to, in slot
   * order, at most `limit`, each decoded. */
  const readRange = async <T>(
    table: "schedule" | "results",
    column: "entry" | "result",
    decode: (bytes: Buffer) => T,
    [processId, fromSlot, toSlot, limit]: [processId: string, fromSlot: bigint, toSlot: bigint, limit?: number],
  ): Promise<T[]> => {
    const rows = await rowsOf<Record<string, Buffer>>(
      `SELECT ${column} FROM ${SCHEMA}.${table} WHERE process_id = $1 AND slot BETWEEN $2 AND $3
       ORDER BY slot LIMIT $4::bigint`,
      rangeParams(processId, fromSlot, toSlot, limit),
    );
    return rows.map((r) => decode(r[column] as Buffer));
  };

  return {
    createProcess: (processId, spawn, timestampMs, module) =>
      call(async () => {
        checkPgId(processId);
        if (module) checkPgId(module.id);
        const definition = encodeMessage(spawn);
        const entry = encodeScheduleEntry({ slot: 0n, messageId: processId, timestampMs, message: spawn });
        const bytes = module && new Uint8Array(module.bytes); // the call copies: see `call`
        // One statement, so one transaction: the module and slot 0 are written only with
        // the definition; a concurrent create of the same id waits, then writes nothing.
        const [row] = await rowsOf<{ created: number }>(
          `WITH created AS (
             INSERT INTO ${SCHEMA}.processes (process_id, definition, latest_slot) VALUES ($1, $2, $3)
             ON CONFLICT (process_id) DO NOTHING RETURNING process_id
           ), module AS (
             INSERT INTO ${SCHEMA}.modules (module_id, bytes)
             SELECT $5::text, $6::bytea FROM created WHERE $5::text IS NOT NULL
             ON CONFLICT (module_id) DO NOTHING
           ), entry AS (
             INSERT INTO ${SCHEMA}.schedule (process_id, slot, entry) SELECT process_id, $3, $4 FROM created
           )
           SELECT count(*)::int AS created FROM created`,
          [processId, definition, toDbSlot(0n), entry, module?.id ?? null, bytes ?? null],
        );
        return row?.created === 1;
      }),
    getProcess: (processId) =>
      call(async () => {
        checkPgId(processId);
        const [row] = await rowsOf<{ definition: Buffer }>(
          `SELECT definition FROM ${SCHEMA}.processes WHERE process_id = $1`,
          [processId],
        );
        return row && decodeMessage(row.definition);
      }),

    getModule: (id) =>
      call(async () => {
        checkPgId(id);
        const [row] = await rowsOf<{ bytes: Buffer }>(`SELECT bytes FROM ${SCHEMA}.modules WHERE module_id = $1`, [id]);
        return row && new Uint8Array(row.bytes);
      }),

    appendSchedule: (processId, messages, timestampMs) =>
      call(async () => {
        checkPgId(processId);
        return append(processId, messages, timestampMs);
      }),
    latestScheduledSlot: (processId) =>
      call(async () => {
        checkPgId(processId);
        const [row] = await rowsOf<{ latest_slot: string }>(
          `SELECT latest_slot FROM ${SCHEMA}.processes WHERE process_id = $1`,
          [processId],
        );
        return row && fromDbSlot(row.latest_slot);
      }),
    readSchedule: (...range) => call(() => readRange("schedule", "entry", decodeScheduleEntry, range)),
    readEncodedSchedule: (...range) => call(() => readRange("schedule", "entry", decodeEncodedScheduleEntry, range)),

    putResults: (results, snapshots) =>
      call(async () => {
        const rows = resultRows(results);
        const writes = snapshotList(snapshots);
        for (const write of writes) checkPgId(write.processId);
        const prepared = writes.map(prepareSnapshot);
        const snapshotInTxn =
          prepared.length === 0
            ? undefined
            : async (client: PoolClient): Promise<void> => {
                for (const write of prepared) await write(client);
              };
        if (rows.length === 0 && !snapshotInTxn) return;
        const upsert = async (query: (sql: string, values: unknown[]) => Promise<unknown>): Promise<void> => {
          for (const batch of statementBatches(rows)) {
            await query(
              `INSERT INTO ${SCHEMA}.results (process_id, slot, result) VALUES ${placeholders(batch.length, 3, 0)}
               ON CONFLICT (process_id, slot) DO UPDATE SET result = EXCLUDED.result`,
              batch.flat(),
            );
          }
        };
        // One statement is its own transaction; anything more is wrapped in one.
        if (!snapshotInTxn && rows.length <= ROWS_PER_STATEMENT) return upsert((sql, v) => pool.query(sql, v));
        await inTransaction(pool, async (client) => {
          await upsert((sql, v) => client.query(sql, v));
          await snapshotInTxn?.(client);
        });
      }),
    getResult: (processId, slot) =>
      call(async () => {
        checkPgId(processId);
        const [row] = await rowsOf<{ result: Buffer }>(
          `SELECT result FROM ${SCHEMA}.results WHERE process_id = $1 AND slot = $2`,
          [processId, toDbSlot(slot)],
        );
        return row && decodeResult(row.result);
      }),
    readResults: (...range) => call(() => readRange("results", "result", decodeResult, range)),
    readEncodedResults: (...range) => call(() => readRange("results", "result", decodeEncodedResult, range)),
    latestResultSlot: (processId) =>
      call(async () => {
        checkPgId(processId);
        const [row] = await rowsOf<{ slot: string }>(
          `SELECT slot FROM ${SCHEMA}.results WHERE process_id = $1 ORDER BY slot DESC LIMIT 1`,
          [processId],
        );
        return row && fromDbSlot(row.slot);
      }),

    putSnapshot: (write) =>
      call(async () => {
        checkPgId(write.processId);
        const snapshotInTxn = prepareSnapshot(write);
        await inTransaction(pool, snapshotInTxn);
      }),
    latestSnapshot: (processId, atOrBelow) =>
      call(async () => {
        checkPgId(processId);
        return readLatestSnapshot(pool, processId, toDbSlot(atOrBelow));
      }),
    latestSnapshotSlot: (processId, atOrBelow) =>
      call(async () => {
        checkPgId(processId);
        const [row] = await rowsOf<{ slot: string }>(
          `SELECT slot FROM ${SCHEMA}.snapshots WHERE process_id = $1 AND slot <= $2 ORDER BY slot DESC LIMIT 1`,
          [processId, toDbSlot(atOrBelow)],
        );
        return row && fromDbSlot(row.slot);
      }),

    close: () =>
      (closing ??= (async () => {
        await Promise.allSettled(inFlight);
        await pool.end();
      })()),
  };
}

/** The rows of a putResults, checked and encoded, one per (process, slot) — the last one
 * given wins, as it would writing them in order — sorted so that concurrent writers of the
 * same rows lock them in the same order (no deadlock). */
function resultRows(results: readonly SlotResult[]): [string, string, Uint8Array][] {
  const byKey = new Map<string, { processId: string; slot: bigint; row: [string, string, Uint8Array] }>();
  for (const r of results) {
    checkPgId(r.processId);
    const slot = toDbSlot(r.slot);
    byKey.set(`${r.slot}:${r.processId}`, {
      processId: r.processId,
      slot: r.slot,
      row: [r.processId, slot, encodeResult(r)],
    });
  }
  return [...byKey.values()]
    .sort((a, b) =>
      a.processId < b.processId ? -1 : a.processId > b.processId ? 1 : a.slot < b.slot ? -1 : a.slot > b.slot ? 1 : 0,
    )
    .map((e) => e.row);
}

/** checkId, plus what PostgreSQL text cannot hold: U+0000. Process and module ids are
 * base64url, so this narrows nothing procworker stores. */
function checkPgId(id: string): void {
  checkId(id);
  if (id.includes("\u0000")) throw invalidArgument("id must not contain U+0000");
}

/** host:port/database of a URL, without the credentials (for messages). */
function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return "(an unparsable URL)";
  }
}

/** ": the cause's message" for a driver error (a ProcworkerError says enough already). */
function detail(error: unknown): string {
  if (error instanceof ProcworkerError || !(error instanceof Error)) return "";
  const code = (error as { code?: unknown }).code;
  const text = error.message || (typeof code === "string" ? code : "");
  return text ? ` (${text})` : "";
}
