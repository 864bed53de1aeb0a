/**
 * The one place that turns what node-postgres throws into ProcworkerErrors, so no driver
 * error ever reaches a caller raw (where it would become INTERNAL). docs/store.md lists the
 * mapping:
 * - the server unreachable, restarting or shutting down, the connection lost, too many
 *   connections, a read-only standby → `unavailable` (retry later, maybe elsewhere);
 * - out of disk (53100), memory or other resources (class 53 but 53300), a program limit
 *   (class 54) → `resource_exhausted`;
 * both as StoreFailureErrors, which a waiting caller rides out (the engine retries);
 * - a deadlock or serialization failure still failing after the store's retries → `aborted`;
 * - anything else → `internal`, with the driver's error as the cause (logged, never sent).
 */
import { DatabaseError } from "pg";
import { ProcworkerError, StoreFailureError } from "../core/errors.js";

/** SQLSTATEs (beyond class 08, connection exception) that mean "the server is not there
 * for us right now". */
const UNAVAILABLE_STATES = new Set([
  "57P01", // admin_shutdown: the server is stopping
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: starting up or shutting down
  "57P05", // idle_session_timeout
  "53300", // too_many_connections
  "25006", // read_only_sql_transaction: connected to a standby (after a failover)
]);

/** SQLSTATEs worth retrying the whole transaction for: nothing was written. */
const RETRYABLE_STATES = new Set(["40001", "40P01"]); // serialization_failure, deadlock_detected

/** Node's socket errors: the connection could not be made or was cut. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** node-postgres reports a lost or unobtainable connection with plain Errors, told apart
 * only by their messages. */
const CONNECTION_MESSAGES =
  /^(Connection terminated|Client has encountered a connection error|Client was closed|timeout exceeded when trying to connect|Cannot use a pool after calling end)/;

/** True when a failed transaction may simply be run again (a deadlock, a serialization
 * failure): PostgreSQL rolled it back whole. */
export function isRetryable(error: unknown): boolean {
  return error instanceof DatabaseError && error.code !== undefined && RETRYABLE_STATES.has(error.code);
}

/** True when the connection (not the statement) failed: the client must not be reused. */
export function isConnectionFailure(error: unknown): boolean {
  if (error instanceof DatabaseError) {
    const code = error.code ?? "";
    return code.startsWith("08") || UNAVAILABLE_STATES.has(code);
  }
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
  return CONNECTION_MESSAGES.test(error.message);
}

/** The ProcworkerError for anything a PostgreSQL call threw; ProcworkerErrors pass through. */
export function storeError(error: unknown): ProcworkerError {
  if (error instanceof ProcworkerError) return error;
  if (isConnectionFailure(error)) {
    return new StoreFailureError("unavailable", "the database is unavailable", { cause: error });
  }
  if (error instanceof DatabaseError) {
    const code = error.code ?? "";
    if (code.startsWith("53") || code.startsWith("54")) {
      const what = code === "53100" ? "the database is out of disk space" : "the database is out of resources";
      return new StoreFailureError("resource_exhausted", what, { cause: error });
    }
    if (RETRYABLE_STATES.has(code)) {
      return new ProcworkerError("aborted", "the write conflicted with another one; retry", { cause: error });
    }
  }
  return new ProcworkerError("internal", "database error", { cause: error });
}
