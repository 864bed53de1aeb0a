import { status } from "@grpc/grpc-js";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ProcworkerError, SlotNotScheduledError, WorkerStoppedError } from "../../../src/core/errors.js";
import { MAX_STATUS_MESSAGE, toServiceError } from "../../../src/service/status.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe("status mapping", () => {
  it("maps every error code to its gRPC status and keeps the message", () => {
    const { logger } = capture();
    const cases: [Error, status][] = [
      [new ProcworkerError("invalid_argument", "bad"), status.INVALID_ARGUMENT],
      [new ProcworkerError("not_found", "nf"), status.NOT_FOUND],
      [new SlotNotScheduledError("p", 5n, 2n), status.OUT_OF_RANGE],
      [new WorkerStoppedError("g"), status.ABORTED],
      [new ProcworkerError("deadline_exceeded", "late"), status.DEADLINE_EXCEEDED],
      [new ProcworkerError("cancelled", "gone"), status.CANCELLED],
      [new ProcworkerError("resource_exhausted", "full"), status.RESOURCE_EXHAUSTED],
      [new ProcworkerError("unavailable", "down"), status.UNAVAILABLE],
      [new ProcworkerError("unauthenticated", "who"), status.UNAUTHENTICATED],
      [new ProcworkerError("permission_denied", "no"), status.PERMISSION_DENIED],
    ];
    for (const [error, code] of cases)
      expect(toServiceError(error, logger, "M")).toMatchObject({ code, details: error.message });
  });

  it("sends a generic INTERNAL for anything else and logs the cause, never sends it", () => {
    const { logger, lines } = capture();
    const mapped = toServiceError(new Error("secret path /var/db is corrupt"), logger, "Schedule");
    expect(mapped).toMatchObject({ code: status.INTERNAL, details: "internal error" });
    expect(JSON.stringify(mapped)).not.toContain("secret");
    expect(lines[0]).toMatchObject({
      event: "internal_error",
      method: "Schedule",
      err: { message: "secret path /var/db is corrupt" },
    });
    expect(toServiceError(new ProcworkerError("internal", "detail"), logger, "M")).toMatchObject({
      details: "internal error",
    });
  });

  it("cuts a status message to MAX_STATUS_MESSAGE characters", () => {
    const { logger } = capture();
    const mapped = toServiceError(new ProcworkerError("invalid_argument", "z".repeat(100_000)), logger, "M");
    expect(mapped.code).toBe(status.INVALID_ARGUMENT);
    expect(mapped.details).toBe(`${"z".repeat(MAX_STATUS_MESSAGE - 1)}…`);
  });
});
