/**
 * The standard health service on a real grpc-js server (127.0.0.1:0): NOT_SERVING until
 * the server says otherwise, the same status for "" and the API service, and Watch
 * streams that see each change.
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addHealth, type Health, PROCESS_WORKER_SERVICE_NAME } from "../../src/service/health.js";

const HEALTH_PROTO = join(
  import.meta.dirname,
  "..",
  "..",
  "third_party",
  "proto",
  "grpc",
  "health",
  "v1",
  "health.proto",
);

type CheckResponse = { status: string };
type HealthClient = grpc.Client & {
  Check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: CheckResponse) => void): void;
  Watch(req: { service: string }): grpc.ClientReadableStream<CheckResponse>;
};

let server: grpc.Server;
let health: Health;
let client: HealthClient;

beforeAll(async () => {
  server = new grpc.Server();
  health = addHealth(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const definition = protoLoader.loadSync(HEALTH_PROTO, { keepCase: true, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition)["grpc"] as grpc.GrpcObject;
  const Health = ((pkg["health"] as grpc.GrpcObject)["v1"] as grpc.GrpcObject)[
    "Health"
  ] as grpc.ServiceClientConstructor;
  client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as HealthClient;
});

afterAll(async () => {
  client?.close();
  if (server !== undefined) await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

function check(service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.Check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))),
  );
}

describe("health", () => {
  it("reports NOT_SERVING, then exactly what the server sets, for the server and the API", async () => {
    expect(health.status).toBe("NOT_SERVING");
    expect(await check("")).toBe("NOT_SERVING");
    expect(await check(PROCESS_WORKER_SERVICE_NAME)).toBe("NOT_SERVING");

    health.setStatus("SERVING");
    expect(health.status).toBe("SERVING");
    expect(await check("")).toBe("SERVING");
    expect(await check(PROCESS_WORKER_SERVICE_NAME)).toBe("SERVING");

    health.setStatus("NOT_SERVING"); // draining
    expect(await check("")).toBe("NOT_SERVING");
    expect(await check(PROCESS_WORKER_SERVICE_NAME)).toBe("NOT_SERVING");
  });

  it("answers NOT_FOUND for a service it does not know", async () => {
    await expect(check("no.such.Service")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("streams each status change to Watch", async () => {
    health.setStatus("NOT_SERVING");
    const call = client.Watch({ service: PROCESS_WORKER_SERVICE_NAME });
    const seen: string[] = [];
    const cancelled = new Promise<grpc.ServiceError>((resolve) => call.on("error", resolve));
    await new Promise<void>((resolve) => {
      call.on("data", (res: CheckResponse) => {
        seen.push(res.status);
        if (seen.length === 1) health.setStatus("SERVING");
        if (seen.length === 2) resolve();
      });
    });
    expect(seen).toEqual(["NOT_SERVING", "SERVING"]);
    call.cancel();
    expect((await cancelled).code).toBe(grpc.status.CANCELLED);
  });

  it("answers Watch of an unknown name with NOT_FOUND at once, keeping nothing for it", async () => {
    health.setStatus("SERVING");
    for (const service of ["no.such.Service", "n".repeat(2 * 1024 * 1024)]) {
      const call = client.Watch({ service });
      const seen: string[] = [];
      call.on("data", (res: CheckResponse) => seen.push(res.status));
      const error = await new Promise<grpc.ServiceError>((resolve) => call.on("error", resolve));
      expect(error.code).toBe(grpc.status.NOT_FOUND);
      expect(error.details.length).toBeLessThan(200);
      expect(seen).toEqual([]);
    }
  });

  it("answers Check of a 2 MiB name with a short NOT_FOUND, and the connection goes on", async () => {
    health.setStatus("SERVING");
    const error = (await check("m".repeat(2 * 1024 * 1024)).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toBe(`unknown service "${"m".repeat(64)}"… (2097152 characters)`);
    expect(await check("")).toBe("SERVING");
  });
});
