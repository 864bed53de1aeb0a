/**
 * The one place where errors become gRPC statuses (docs/design.md §3). Known errors keep their
 * message; anything else becomes INTERNAL with a generic message, and its cause goes to
 * the log, never to the client.
 */
import { status, type ServiceError, Metadata } from "@grpc/grpc-js";
import { ProcworkerError, type ErrorCode } from "../core/errors.js";
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
  internal: status.INTERNAL,
};

/** The status a client sees for `error`; internal details are logged under `method`. */
export function toServiceError(error: unknown, logger: Logger, method: string): Partial<ServiceError> {
  if (error instanceof ProcworkerError && error.code !== "internal") {
    return { code: STATUS_OF[error.code], details: error.message, metadata: new Metadata() };
  }
  logger.error({ event: "internal_error", method, err: error }, "internal error");
  return { code: status.INTERNAL, details: "internal error", metadata: new Metadata() };
}
