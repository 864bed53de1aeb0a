/**
 * Requests a hostile (or careless) client can send, against a real server: every one gets a
 * short, exact status, and the connection it came on keeps working.
 */
import { Client, credentials, status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { ServerReflectionResponse } from "../../src/generated/grpc/reflection/v1/reflection.js";
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

describe("undecodable request bytes", () => {
  /** Bytes no protobuf message decodes from: a field with wire type 7. */
  const GARBAGE = Buffer.from([0x0f]);
  const raw = (b: Buffer): Buffer => b;

  function unary(client: Client, path: string): Promise<{ code: number; details: string }> {
    return statusOf(
      new Promise((resolve, reject) =>
        client.makeUnaryRequest(path, raw, raw, GARBAGE, (error, value) => (error ? reject(error) : resolve(value))),
      ),
    );
  }
  function streamed(client: Client, path: string): Promise<{ code: number; details: string }> {
    const call: ClientReadableStream<Buffer> = client.makeServerStreamRequest(path, raw, raw, GARBAGE);
    return statusOf(
      new Promise((resolve, reject) => {
        call.on("data", () => undefined);
        call.on("error", reject);
        call.on("end", resolve);
      }),
    );
  }

  it("get INVALID_ARGUMENT (not INTERNAL) from every kind of call, health and reflection included", async () => {
    s = await startTestServer();
    const client = new Client(s.address, credentials.createInsecure());
    try {
      const api = "/procworker.v1.ProcessWorkerService/";
      for (const method of ["Spawn", "Schedule", "Await", "GetProcess"]) {
        expect(await unary(client, api + method), method).toEqual({
          code: status.INVALID_ARGUMENT,
          details: `the request's bytes are not a valid message ("cant skip wire type 7")`,
        });
      }
      for (const method of ["Compute", "Subscribe", "ReadSchedule"]) {
        expect((await streamed(client, api + method)).code, method).toBe(status.INVALID_ARGUMENT);
      }
      expect((await unary(client, "/grpc.health.v1.Health/Check")).code).toBe(status.INVALID_ARGUMENT);
      expect((await streamed(client, "/grpc.health.v1.Health/Watch")).code).toBe(status.INVALID_ARGUMENT);
      // Reflection answers each request on its stream: an INVALID_ARGUMENT error_response.
      const reflection = client.makeBidiStreamRequest(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        raw,
        raw,
      );
      const answer = new Promise<Buffer>((resolve) => reflection.once("data", resolve));
      reflection.write(GARBAGE);
      expect(ServerReflectionResponse.decode(await answer).messageResponse).toEqual({
        $case: "errorResponse",
        value: { errorCode: status.INVALID_ARGUMENT, errorMessage: "the request's bytes are not a valid message" },
      });
      reflection.end();
      expect(await s.client.listWorkers(CALL)).toEqual({ workers: [] });
    } finally {
      client.close();
    }
  });
});

describe("request limits", () => {
  const tags = (n: number, prefix = "t"): Record<string, string> =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, ""]));

  it("refuses a Schedule of more than max_schedule_messages messages, before decoding it", async () => {
    s = await startTestServer();
    const { processId } = await s.client.spawn({
      process: msg({ "Execution-Device": "counter@1.0" }),
      module: Buffer.alloc(0),
    });
    const many = (n: number) => Array.from({ length: n }, () => msg({}));
    expect((await s.client.schedule({ processId, messages: many(1000) }, CALL)).assignments).toHaveLength(1000);
    for (const n of [1001, 200_000]) {
      expect(await statusOf(s.client.schedule({ processId, messages: many(n) }, CALL))).toEqual({
        code: status.INVALID_ARGUMENT,
        details: "a Schedule carries at most 1000 messages (max_schedule_messages); this one has more",
      });
    }
    // Nothing of the refused requests was scheduled.
    expect((await s.client.getProcess({ processId }, CALL)).latestScheduledSlot).toBe(1000n);
  });

  it("refuses Spawn, Schedule and DryRun carrying more than max_request_tags tags in all", async () => {
    s = await startTestServer({ maxRequestTags: 100 });
    const refused = {
      code: status.INVALID_ARGUMENT,
      details: "a request carries at most 100 tags over all its messages (max_request_tags); this one has more",
    };
    const spawn = (n: number) =>
      s!.client.spawn(
        { process: msg({ "Execution-Device": "counter@1.0", ...tags(n - 1) }), module: Buffer.alloc(0) },
        CALL,
      );
    expect(await statusOf(spawn(101))).toEqual(refused);
    const { processId } = await spawn(100);
    const schedule = (a: number, b: number) =>
      s!.client.schedule({ processId, messages: [msg(tags(a, "a")), msg(tags(b, "b"))] }, CALL);
    expect(await statusOf(schedule(60, 41))).toEqual(refused);
    expect((await schedule(60, 40)).assignments).toHaveLength(2);
    expect(await statusOf(s.client.dryRun({ processId, message: msg(tags(101)) }, CALL))).toEqual(refused);
  });
});
