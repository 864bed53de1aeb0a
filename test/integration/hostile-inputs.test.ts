/**
 * Requests a hostile (or careless) client can send, against a real server: every one gets a
 * short, exact status, and the connection it came on keeps working.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg } from "../support/wire.js";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const HUGE = 100_000;
/** Each call gets a deadline: before the fix, a reply whose trailer is too large never ends. */
const CALL = { timeoutMs: 10_000 };

async function statusOf(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  const error = (await call.then(
    () => ({ code: status.OK, details: "" }),
    (e: ServiceError) => e,
  )) as ServiceError;
  return { code: error.code, details: error.details };
}

describe("error messages never echo a whole input", () => {
  it("answers Group with a 100,000-character process id with a short INVALID_ARGUMENT, and the connection goes on", async () => {
    s = await startTestServer();
    const { code, details } = await statusOf(s.client.group({ processId: "x".repeat(HUGE), path: "compute" }, CALL));
    expect(code).toBe(status.INVALID_ARGUMENT);
    expect(details).toBe(`process id "${"x".repeat(64)}"… (100000 characters) is not an id (43 base64url characters)`);
    // The next call on the same client (the same HTTP/2 connection) is answered.
    expect(await s.client.listWorkers(CALL)).toEqual({ workers: [] });
  });

  it("bounds the echo of an unknown device, a Module tag and Initial", async () => {
    s = await startTestServer();
    const huge = "y".repeat(HUGE);
    const cases: Record<string, string>[] = [
      { "Execution-Device": huge },
      { "Execution-Device": "wasm@1.0", Module: huge },
      { "Execution-Device": "counter@1.0", Initial: huge },
    ];
    for (const tags of cases) {
      const { code, details } = await statusOf(s.client.spawn({ process: msg(tags), module: Buffer.alloc(0) }, CALL));
      expect(code).toBe(status.INVALID_ARGUMENT);
      expect(details).toContain(`"${"y".repeat(64)}"… (100000 characters)`);
      expect(details.length).toBeLessThan(300);
    }
    // Module bytes that do not match a huge Module tag.
    const mismatch = await statusOf(
      s.client.spawn(
        { process: msg({ "Execution-Device": "wasm@1.0", Module: huge }), module: Buffer.from("\0asm") },
        CALL,
      ),
    );
    expect(mismatch.code).toBe(status.INVALID_ARGUMENT);
    expect(mismatch.details.length).toBeLessThan(300);
    expect(await s.client.listWorkers(CALL)).toEqual({ workers: [] });
  });
});
