/**
 * Reflection on the real server (not a stub): what grpcurl would do with no proto files —
 * list the services, fetch the descriptors, and drive the real engine with calls built
 * only from them. (test/integration/reflection.test.ts proves the served bytes are buf's.)
 */
import * as grpc from "@grpc/grpc-js";
import { GrpcReflection } from "grpc-js-reflection-client";
import { afterEach, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

it("lists the services and drives Spawn, Schedule and Compute from reflected descriptors alone", async () => {
  s = await startTestServer();
  const reflection = new GrpcReflection(s.address, grpc.credentials.createInsecure(), {}, "v1");
  const services = await reflection.listServices();
  expect(services).toEqual(expect.arrayContaining(["procworker.v1.ProcessWorkerService", "grpc.health.v1.Health"]));
  const descriptor = await reflection.getDescriptorBySymbol("procworker.v1.ProcessWorkerService");
  const pkg = descriptor.getPackageObject({ keepCase: true, longs: String, enums: String, defaults: true });
  const Service = ((pkg["procworker"] as grpc.GrpcObject)["v1"] as grpc.GrpcObject)[
    "ProcessWorkerService"
  ] as grpc.ServiceClientConstructor;
  const client = new Service(s.address, grpc.credentials.createInsecure()) as unknown as Record<string, Function> &
    grpc.Client;
  const unary = <T>(method: string, request: unknown): Promise<T> =>
    new Promise((resolve, reject) =>
      client[method]!.call(client, request, (e: Error | null, r: T) => (e ? reject(e) : resolve(r))),
    );
  try {
    // protobufjs-built clients see the map as repeated {key, value} entries (same wire bytes).
    const { process_id } = await unary<{ process_id: string }>("Spawn", {
      process: {
        tags: [
          { key: "Execution-Device", value: "counter@1.0" },
          { key: "Initial", value: "2" },
        ],
      },
    });
    const { assignments } = await unary<{ assignments: { slot: string }[] }>("Schedule", {
      process_id,
      messages: [{ tags: [{ key: "Amount", value: "3" }] }],
    });
    expect(assignments.map((a) => a.slot)).toEqual(["1"]);
    const totals = await new Promise<string[]>((resolve, reject) => {
      const out: string[] = [];
      const stream = client["Compute"]!.call(client, { process_id }) as grpc.ClientReadableStream<{
        result: { output: { tags: { key: string; value: string }[] } };
      }>;
      stream.on("data", (r) =>
        out.push(r.result.output.tags.find((t: { key: string; value: string }) => t.key === "Total")?.value ?? "?"),
      );
      stream.on("error", reject);
      stream.on("end", () => resolve(out));
    });
    expect(totals).toEqual(["2", "5"]);
  } finally {
    client.close();
    const inner: unknown = Reflect.get(reflection, "client");
    if (inner instanceof grpc.Client) inner.close();
  }
});
