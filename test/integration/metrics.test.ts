/**
 * Prometheus metrics: RPCs counted by method and status, open streams, live workers.
 */
import { get } from "node:http";
import { status as grpcStatus } from "@grpc/grpc-js";
import { expect, it } from "vitest";
import { readAll } from "../../src/service/client.js";
import { serveMetrics } from "../../src/service/metrics.js";
import { startTestServer } from "../support/server.js";
import { msg } from "../support/wire.js";

function scrape(port: number): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path: "/metrics" }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    }).on("error", reject);
  });
}

it("serves RPC counts by method and status, and the live workers, in Prometheus format", async () => {
  const s = await startTestServer();
  const metrics = await serveMetrics(s.server.metrics, "127.0.0.1", 0);
  try {
    const { processId } = await s.client.spawn({
      process: msg({ "Execution-Device": "counter@1.0" }),
      module: Buffer.alloc(0),
    });
    await s.client.schedule({ processId, messages: [msg({ Amount: "1" })] });
    await readAll(s.client.compute({ processId }));
    await expect(s.client.schedule({ processId, messages: [] })).rejects.toMatchObject({
      code: grpcStatus.INVALID_ARGUMENT,
    });
    const { status, body } = await scrape(metrics.port);
    expect(status).toBe(200);
    expect(body).toMatch(/procworker_rpc_total\{method="Spawn",code="OK"\} 1/);
    expect(body).toMatch(/procworker_rpc_total\{method="Schedule",code="INVALID_ARGUMENT"\} 1/);
    expect(body).toMatch(/procworker_rpc_total\{method="Compute",code="OK"\} 1/);
    expect(body).toMatch(/procworker_rpc_seconds_count\{method="Schedule"\} 2/);
    expect(body).toMatch(/procworker_rpc_seconds_bucket\{method="Schedule",le="\+Inf"\} 2/);
    expect(body).toMatch(/procworker_rpc_seconds_bucket\{method="Spawn",le="30"\} 1/);
    expect(body).toMatch(/procworker_live_workers 1/);
    expect(body).toMatch(/procworker_scheduled_messages_total 1/);
    expect(body).toMatch(/procworker_open_streams 0/);
  } finally {
    await metrics.close();
    await s.close();
  }
});
