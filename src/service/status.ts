/**
 * The one place where errors become gRPC statuses (docs/design.md §3.2). Known errors keep their
 * message, cut to MAX_STATUS_MESSAGE characters; anything else becomes INTERNAL with a
 * generic message, and its cause goes to the log, never to the client.
 */
import { status, type ServiceError, Metadata } from "@grpc/grpc-js";
import { ProcworkerError, StoreFailureError, type ErrorCode } from "../core/errors.js";
import type { Logger } from "../core/log.js";

const STATUS_OF: Record<ErrorCode, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  out_of_range: status.OUT_OF_RANGE,
  aborted: status.ABORTED,
  deadline_exceeded: status.DEADLINE_EXCEEDED,
  cancelled: status.CANCELLED,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  internal: status.INTERNAL,
};

/** The longest status message sent. Messages travel in the grpc-message trailer, which
 * HTTP/2 clients cap (Node's at about 64 KiB; percent-encoded, a UTF-16 unit takes at most 9
 * bytes, so this is under 10 KiB);
 * each message already bounds what it repeats of a request (`excerpt`), this is the net. */
export const MAX_STATUS_MESSAGE = 1024;

function bounded(message: string): string {
  if (message.length <= MAX_STATUS_MESSAGE) return message;
  let cut = message.slice(0, MAX_STATUS_MESSAGE - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** The status a client sees for `error`; internal details are logged under `method`, and so
 * is the cause of a store failure (at warn: the client sees UNAVAILABLE or RESOURCE_EXHAUSTED). */
export function toServiceError(error: unknown, logger: Logger, method: string): Partial<ServiceError> {
  if (error instanceof StoreFailureError) {
    logger.warn({ event: "store_failure", method, err: error.cause }, error.message);
  }
  if (error instanceof ProcworkerError && error.code !== "internal") {
    return { code: STATUS_OF[error.code], details: bounded(error.message), metadata: new Metadata() };
  }
  logger.error({ event: "internal_error", method, err: error }, "internal error");
  return { code: status.INTERNAL, details: "internal error", metadata: new Metadata() };
}
