import { DatabaseError } from "pg";
import { describe, expect, it } from "vitest";
import { ProcworkerError } from "../../../src/core/errors.js";
import { isRetryable, storeError } from "../../../src/store/postgres-errors.js";
import { fromDbSlot, toDbSlot } from "../../../src/store/postgres-slots.js";

const MAX = 2n ** 64n - 1n;

/** A server error as node-postgres builds it from an ErrorResponse. */
function serverError(code: string): DatabaseError {
  const error = new DatabaseError(`server says ${code}`, 0, "error");
  error.code = code;
  return error;
}

/** A socket error as Node reports it. */
function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, syscall: "connect" });
}

describe("PostgreSQL error mapping", () => {
  it.each([
    ["connection refused", socketError("ECONNREFUSED"), "unavailable"],
    ["connection reset", socketError("ECONNRESET"), "unavailable"],
    ["connection lost (node-postgres)", new Error("Connection terminated unexpectedly"), "unavailable"],
    ["pool connect timeout", new Error("timeout exceeded when trying to connect"), "unavailable"],
    ["class 08", serverError("08006"), "unavailable"],
    ["server shutting down", serverError("57P01"), "unavailable"],
    ["server starting up", serverError("57P03"), "unavailable"],
    ["too many connections", serverError("53300"), "unavailable"],
    ["a read-only standby", serverError("25006"), "unavailable"],
    ["disk full", serverError("53100"), "resource_exhausted"],
    ["out of memory", serverError("53200"), "resource_exhausted"],
    ["program limit", serverError("54000"), "resource_exhausted"],
    ["deadlock after the retries", serverError("40P01"), "aborted"],
    ["a constraint", serverError("23514"), "internal"],
    ["a syntax error", serverError("42601"), "internal"],
    ["a bug", new TypeError("x is undefined"), "internal"],
    ["not an Error", "boom", "internal"],
  ])("%s → %s", (_what, error, code) => {
    const mapped = storeError(error);
    expect(mapped).toBeInstanceOf(ProcworkerError);
    expect(mapped.code).toBe(code);
    expect(mapped.cause).toBe(error);
  });

  it("passes ProcworkerErrors through; retries only deadlocks and serialization failures", () => {
    const own = new ProcworkerError("not_found", "process p not found");
    expect(storeError(own)).toBe(own);
    expect(isRetryable(serverError("40P01"))).toBe(true);
    expect(isRetryable(serverError("40001"))).toBe(true);
    expect(isRetryable(serverError("23505"))).toBe(false);
    expect(isRetryable(socketError("ECONNRESET"))).toBe(false);
  });
});

describe("u64 slots in a signed bigint column", () => {
  it("maps 0..2^64−1 onto the bigint range, in order, and back exactly", () => {
    expect(toDbSlot(0n)).toBe("-9223372036854775808");
    expect(toDbSlot(2n ** 63n)).toBe("0");
    expect(toDbSlot(MAX)).toBe("9223372036854775807");
    const slots = [0n, 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, MAX - 1n, MAX];
    const stored = slots.map((s) => BigInt(toDbSlot(s)));
    expect([...stored].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(stored);
    expect(slots.map((s) => fromDbSlot(toDbSlot(s)))).toEqual(slots);
  });

  it("rejects slots outside 0..2^64−1 with invalid_argument", () => {
    expect(() => toDbSlot(-1n)).toThrow(expect.objectContaining({ code: "invalid_argument" }) as Error);
    expect(() => toDbSlot(MAX + 1n)).toThrow(expect.objectContaining({ code: "invalid_argument" }) as Error);
  });
});
