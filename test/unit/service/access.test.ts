import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { ProcessWorkerServiceService } from "../../../src/generated/procworker/v1/process_worker_service.js";
import { accessError, parseTokens, requiredRole, roleOf } from "../../../src/service/access.js";

const READ = "read-token-0123456789abcdef";
const WRITE = "write-token-0123456789abcdef";

describe("roles", () => {
  it("lets read tokens call exactly the methods that change nothing; Spawn, Schedule and Stop need write", () => {
    const byRole: Record<string, string[]> = { read: [], write: [] };
    for (const method of Object.values(ProcessWorkerServiceService)) {
      byRole[requiredRole(method.path) ?? "open"]?.push(method.path.split("/")[2] ?? "");
    }
    expect(byRole["read"]?.sort()).toEqual(
      ["Await", "Compute", "DryRun", "GetProcess", "Group", "ListWorkers", "ReadSchedule", "Subscribe"].sort(),
    );
    // A method added later needs write until it is listed as a read method.
    expect(byRole["write"]?.sort()).toEqual(["Schedule", "Spawn", "Stop"]);
    expect(requiredRole("/grpc.health.v1.Health/Check")).toBeUndefined();
    expect(requiredRole("/grpc.health.v1.Health/Watch")).toBeUndefined();
    expect(requiredRole("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")).toBe("read");
    expect(requiredRole("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")).toBe("read");
    expect(requiredRole("/some.Other/Method")).toBe("write");
  });
});

describe("tokens file", () => {
  it("reads ROLE TOKEN lines, skipping comments and blank lines", () => {
    const tokens = parseTokens(`# readers\n\n  read ${READ}  \r\nwrite\t${WRITE}\n# end\n`);
    expect(tokens.entries.map((e) => e.role)).toEqual(["read", "write"]);
    expect(roleOf(tokens, READ)).toBe("read");
    expect(roleOf(tokens, WRITE)).toBe("write");
    expect(roleOf(tokens, `${WRITE}x`)).toBeUndefined();
    expect(roleOf(tokens, "")).toBeUndefined();
    expect(parseTokens("# nobody\n").entries).toEqual([]);
  });

  it("refuses a bad line by its number, never echoing a token", () => {
    const cases: [string, string][] = [
      [`admin ${WRITE}`, "line 1: expected `read TOKEN` or `write TOKEN`"],
      [`\nread ${READ} ${WRITE}`, "line 2: expected a role and one token"],
      ["read", "line 1: expected a role and one token"],
      ["write short-token", "line 1: a token has at least 16 characters"],
      [`read ${READ}\nwrite ${READ}`, "line 2: a token listed twice"],
      [`read ${READ}é`, "line 1: a token is printable ASCII without spaces"],
    ];
    for (const [text, message] of cases) {
      expect(() => parseTokens(text), text).toThrow(`tokens file ${message}`);
      try {
        parseTokens(text);
      } catch (error) {
        expect((error as Error).message).not.toContain("token-0123");
      }
    }
  });
});

describe("a call's access", () => {
  const tokens = parseTokens(`read ${READ}\nwrite ${WRITE}`);
  const with_ = (value?: string): Metadata => {
    const m = new Metadata();
    if (value !== undefined) m.set("authorization", value);
    return m;
  };
  const spawn = "/procworker.v1.ProcessWorkerService/Spawn";
  const list = "/procworker.v1.ProcessWorkerService/ListWorkers";

  it("maps each case to its code", () => {
    expect(accessError(tokens, list, with_())?.code).toBe("unauthenticated");
    expect(accessError(tokens, list, with_(`bearer ${READ}`))).toBeUndefined();
    expect(accessError(tokens, list, with_(`Bearer ${WRITE}`))).toBeUndefined();
    expect(accessError(tokens, spawn, with_(`Bearer ${READ}`))).toMatchObject({
      code: "permission_denied",
      message: "a read token may not call Spawn",
    });
    expect(accessError(tokens, spawn, with_(`Bearer ${WRITE}`))).toBeUndefined();
    expect(accessError(tokens, spawn, with_(`Bearer nope-0123456789abcdef`))?.code).toBe("unauthenticated");
    expect(accessError(tokens, "/grpc.health.v1.Health/Check", with_())).toBeUndefined();
  });
});
