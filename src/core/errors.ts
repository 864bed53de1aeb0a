/**
 * The errors of procworker, independent of gRPC. Each carries a code; exactly one
 * function (src/service/status.ts) maps codes to gRPC status. Subclasses exist only where
 * a caller behaves differently (retry, wait, store as a slot result).
 */

/** What went wrong, in terms a client can act on. */
export type ErrorCode =
  | "invalid_argument" // malformed request: bad id syntax, empty list, oversized field
  | "not_found" // unknown process or module
  | "out_of_range" // a Compute target not yet scheduled
  | "aborted" // the worker died or stopped while the caller waited: retry
  | "deadline_exceeded" // the caller's deadline (or max_await_ms) passed
  | "cancelled" // the caller went away
  | "resource_exhausted" // a configured limit was hit
  | "unavailable" // the server is shutting down, or the store cannot be reached
  | "unauthenticated" // no valid bearer token (access control is on)
  | "permission_denied" // the token's role does not allow the call
  | "internal"; // a bug or an unexpected failure: the cause is logged, never sent

/** The base error: a code, a message safe to show a client, and an optional cause. */
export class ProcworkerError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ProcworkerError";
  }
}

/** The leader-death error (HyperBEAM's `leader_died`): the worker is gone; retrying is safe. */
export class WorkerStoppedError extends ProcworkerError {
  constructor(
    readonly group: string,
    reason = "stopped",
    options?: { cause?: unknown },
  ) {
    super("aborted", `worker for group ${group} ${reason} while the request waited; retry`, options);
    this.name = "WorkerStoppedError";
  }
}

/** A Compute target past the end of the schedule. */
export class SlotNotScheduledError extends ProcworkerError {
  constructor(
    readonly processId: string,
    readonly slot: bigint,
    readonly latest: bigint,
  ) {
    super("out_of_range", `slot ${slot} of process ${processId} is not scheduled (latest is ${latest})`);
    this.name = "SlotNotScheduledError";
  }
}

/**
 * The store could not be read or written (`unavailable`: an I/O error, a lost connection) or
 * has no room left (`resource_exhausted`: a full disk). Nothing was changed, and the same
 * operation may succeed later: callers that wait keep waiting while the engine retries.
 */
export class StoreFailureError extends ProcworkerError {
  constructor(code: "unavailable" | "resource_exhausted", message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "StoreFailureError";
  }
}

/** The server is draining: the request was not (or no longer) handled. */
export class ShuttingDownError extends ProcworkerError {
  constructor() {
    super("unavailable", "server is shutting down");
    this.name = "ShuttingDownError";
  }
}

/** Shorthands for the common codes. */
export const invalidArgument = (message: string): ProcworkerError => new ProcworkerError("invalid_argument", message);
export const notFound = (message: string): ProcworkerError => new ProcworkerError("not_found", message);

/** The most characters of a client's value that an error message repeats. */
export const EXCERPT_CHARS = 64;

/**
 * A client's value as an error message may show it: JSON-quoted, cut to `max` characters
 * with its full length appended when longer (`"abcd"… (100000 characters)`). A message travels
 * in the grpc-message trailer, which HTTP/2 clients cap (Node's at about 64 KiB, past which the
 * call never ends): so no message may grow with what a client sent.
 */
export function excerpt(value: string, max = EXCERPT_CHARS): string {
  if (value.length <= max) return JSON.stringify(value);
  let cut = value.slice(0, max);
  // Never end on half a surrogate pair (JSON.stringify would show it as an escape).
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${JSON.stringify(cut)}… (${value.length} characters)`;
}
