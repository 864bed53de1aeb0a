/**
 * Running a function in one PostgreSQL transaction on a pooled connection. It resolves only
 * after COMMIT has returned, which (with `synchronous_commit` on) means the commit record is
 * flushed to disk. A deadlock or serialization failure — PostgreSQL rolled everything back —
 * runs the function again, a few times; any other failure rolls back and rejects. A
 * connection that failed is destroyed, never handed back to the pool.
 */
import type { Pool, PoolClient } from "pg";
import { isConnectionFailure, isRetryable } from "./postgres-errors.js";

/** How often a transaction that hit a deadlock or serialization failure is run again. */
const ATTEMPTS = 5;

export interface TransactionOptions {
  /** `REPEATABLE READ, READ ONLY`: several statements see one snapshot of the database. */
  readOnlySnapshot?: boolean;
}

/** Runs `fn` in a transaction and commits; see the file comment for retries and errors.
 * `fn` may run more than once, so it must not have effects outside the database. */
export async function inTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const begin = options.readOnlySnapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN";
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    // While checked out, a connection lost between two statements is reported as an
    // 'error' event; without a listener it would crash the process. The next query fails.
    const ignore = (): void => undefined;
    client.on("error", ignore);
    let broken: Error | undefined;
    try {
      await client.query(begin);
      const value = await fn(client);
      await client.query("COMMIT");
      return value;
    } catch (error) {
      if (isConnectionFailure(error)) broken = error as Error;
      else await client.query("ROLLBACK").catch((e: unknown) => (broken = e as Error));
      if (broken === undefined && isRetryable(error) && attempt < ATTEMPTS) continue;
      throw error;
    } finally {
      client.removeListener("error", ignore);
      client.release(broken);
    }
  }
}
