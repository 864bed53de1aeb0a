import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcworkerClient, readAll } from "../../src/service/client.js";
import { startChildServer } from "../support/child-server.js";
import { msg } from "../support/wire.js";

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "procworker-signals-"));
  // The graceful-shutdown test runs the built server directly (npm start builds by itself).
  await promisify(execFile)("npm", ["run", "build", "--silent"], { cwd: new URL("../../", import.meta.url).pathname });
}, 120_000);
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

// Both at once: each waits on npm and tsc far more than it computes.
describe.concurrent("npm start under Ctrl-C", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`exits 0 without an npm error when the process group gets ${signal}`, async ({ expect }) => {
      const server = await startChildServer("npm", ["start", "--silent"], {
        PROCWORKER_DATA_DIR: join(dataDir, signal),
      });
      const client = new ProcworkerClient(`127.0.0.1:${server.port}`);
      expect((await client.listWorkers()).workers).toEqual([]);
      // The effective configuration is logged at start, from flags, environment and defaults.
      const config = server.stdout
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { event?: string; config?: Record<string, unknown> })
        .find((e) => e.event === "config");
      expect(config?.config).toMatchObject({
        dataDir: join(dataDir, signal),
        port: 0,
        processWorkers: true,
        processWorkerMaxIdle: 300_000,
      });
      client.close();
      expect(await server.signalGroup(signal)).toBe(0);
      expect(server.stderr.join("\n")).not.toMatch(/npm (error|ERR)/);
      expect(server.stdout.some((line) => line.includes('"event":"stopped"'))).toBe(true);
    }, 120_000);
  }
});

describe("graceful shutdown", () => {
  it("ends open streams with UNAVAILABLE, exits 0, and a restart has every acknowledged message and the same results", async () => {
    const dir = join(dataDir, "restart");
    const first = await startChildServer("node", ["dist/cli/main.js", "serve"], { PROCWORKER_DATA_DIR: dir });
    const client = new ProcworkerClient(`127.0.0.1:${first.port}`);
    const { processId } = await client.spawn({
      process: msg({ "Execution-Device": "counter@1.0" }),
      module: Buffer.alloc(0),
    });
    const acknowledged = [];
    for (let i = 1; i <= 5; i++)
      acknowledged.push(...(await client.schedule({ processId, messages: [msg({ Amount: String(i) })] })).assignments);
    const before = await readAll(client.compute({ processId, slot: 3n }));
    const subscription = readAll(client.subscribe({ processId, fromSlot: 0n }));
    const waiter = client.await({ processId, slot: 99n });
    const subscribed = subscription.then(
      () => -1,
      (e: ServiceError) => e.code,
    );
    const waited = waiter.then(
      () => -1,
      (e: ServiceError) => e.code,
    );
    // Both calls are attached once the eager compute for the subscriber has delivered slot 5.
    expect((await client.await({ processId, slot: 5n })).result?.output?.tags.get("Total")).toBe("15");
    expect(await first.signalGroup("SIGTERM")).toBe(0);
    expect(await subscribed).toBe(status.UNAVAILABLE);
    expect(await waited).toBe(status.UNAVAILABLE);
    client.close();

    const second = await startChildServer("node", ["dist/cli/main.js", "serve"], { PROCWORKER_DATA_DIR: dir });
    const again = new ProcworkerClient(`127.0.0.1:${second.port}`);
    const assigned = await again.schedule({ processId, messages: [msg({ Amount: "6" })] });
    expect(assigned.assignments.map((a) => a.slot)).toEqual([6n]);
    const all = await readAll(again.compute({ processId, slot: 0n }));
    expect(all).toHaveLength(1);
    const results = [];
    for (let slot = 0n; slot <= 6n; slot++) results.push((await again.await({ processId, slot })).result);
    expect(results.slice(0, 4)).toEqual(before.map((r) => r.result));
    expect(results.map((r) => r?.messageId).slice(1, 6)).toEqual(acknowledged.map((a) => a.messageId));
    expect(results.map((r) => r?.output?.tags.get("Total"))).toEqual(["0", "1", "3", "6", "10", "15", "21"]);
    again.close();
    expect(await second.signalGroup("SIGINT")).toBe(0);
  }, 120_000);
});
