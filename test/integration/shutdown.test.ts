/**
 * Graceful shutdown in-process: health reports NOT_SERVING to watchers while draining,
 * Watch streams and waiting calls end with UNAVAILABLE, new calls are refused, and close
 * completes (nothing holds it open).
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { expect, it } from "vitest";
import { startTestServer } from "../support/server.js";
import { until } from "../support/until.js";

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

it("drains: watchers see NOT_SERVING then UNAVAILABLE, waiting calls end with UNAVAILABLE, close completes", async () => {
  const s = await startTestServer();
  const definition = protoLoader.loadSync(HEALTH_PROTO, { keepCase: true, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition)["grpc"] as grpc.GrpcObject;
  const Health = ((pkg["health"] as grpc.GrpcObject)["v1"] as grpc.GrpcObject)[
    "Health"
  ] as grpc.ServiceClientConstructor;
  const health = new Health(s.address, grpc.credentials.createInsecure());
  const watch = (
    health as unknown as { Watch: (r: { service: string }) => grpc.ClientReadableStream<{ status: string }> }
  ).Watch({
    service: "",
  });
  const statuses: string[] = [];
  let firstStatus!: () => void;
  const first = new Promise<void>((resolve) => (firstStatus = resolve));
  const watchEnded = new Promise<number>((resolve) => {
    watch.on("data", (m: { status: string }) => {
      statuses.push(m.status);
      firstStatus();
    });
    watch.on("error", (e: grpc.ServiceError) => resolve(e.code));
  });
  await first;
  expect(statuses).toEqual(["SERVING"]);

  const { processId } = await s.client.spawn({
    process: { tags: new Map([["Execution-Device", "counter@1.0"]]), data: Buffer.alloc(0) },
    module: Buffer.alloc(0),
  });
  const waiting = s.client.await({ processId, slot: 5n }).then(
    () => -1,
    (e: grpc.ServiceError) => e.code,
  );
  await until(s.server.engine, () => s.server.engine.attached().waiters === 1, "one waiter");

  await s.server.close();
  expect(await waiting).toBe(grpc.status.UNAVAILABLE);
  expect(await watchEnded).toBe(grpc.status.UNAVAILABLE);
  expect(statuses).toEqual(["SERVING", "NOT_SERVING"]);
  await expect(s.client.listWorkers({ timeoutMs: 2_000 })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  health.close();
  await s.close(); // idempotent: asserts nothing leaked
});
