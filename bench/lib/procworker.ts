/**
 * A real procworker server for the benchmarks (127.0.0.1:0, LMDB in a fresh temp dir,
 * silent logs) and small helpers to build wire messages and spawn processes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { defaultConfig, type Config } from "../../src/core/config.js";
import { silentLogger } from "../../src/core/log.js";
import { ProcworkerClient } from "../../src/service/client.js";
import { startServer, type RunningServer } from "../../src/service/server.js";
import { ProcessWorkerServiceClient } from "../../src/generated/procworker/v1/process_worker_service.js";
import type { Message } from "../../src/generated/procworker/v1/types.js";

export interface BenchServer {
  server: RunningServer;
  client: ProcworkerClient;
  address: string;
  /** A raw client on its own HTTP/2 connection (for spreading streams over channels). */
  ownConnection(): ProcessWorkerServiceClient;
  close(): Promise<void>;
}

export async function startBenchServer(overrides: Partial<Config> = {}): Promise<BenchServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "procworker-bench-"));
  const config = defaultConfig({ host: "127.0.0.1", port: 0, dataDir, logLevel: "silent", ...overrides });
  let server: RunningServer;
  try {
    server = await startServer({ config, logger: silentLogger() });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const address = `127.0.0.1:${server.port}`;
  const client = new ProcworkerClient(address);
  const raws: ProcessWorkerServiceClient[] = [];
  return {
    server,
    client,
    address,
    ownConnection() {
      const raw = new ProcessWorkerServiceClient(address, credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
      });
      raws.push(raw);
      return raw;
    },
    async close() {
      client.close();
      raws.forEach((r) => r.close());
      try {
        await server.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** A wire message. */
export function wire(tags: Record<string, string>, data: Buffer = Buffer.alloc(0)): Message {
  return { tags: new Map(Object.entries(tags)), data };
}

/** Spawns a counter@1.0 process (distinct `name`s give distinct processes). */
export async function spawnCounter(client: ProcworkerClient, name: string): Promise<string> {
  const { processId } = await client.spawn({
    process: wire({ "Execution-Device": "counter@1.0", Bench: name }),
    module: Buffer.alloc(0),
  });
  return processId;
}

/** Schedules `count` counter messages (Amount 1) in requests of at most `chunk`. */
export async function scheduleMany(
  client: ProcworkerClient,
  processId: string,
  count: number,
  chunk = 1000,
): Promise<bigint> {
  let last = 0n;
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    const res = await client.schedule({ processId, messages: Array.from({ length: n }, () => wire({ Amount: "1" })) });
    last = res.assignments.at(-1)?.slot ?? last;
  }
  return last;
}

/** Schedules one message; returns its slot. */
export async function scheduleOne(
  client: ProcworkerClient,
  processId: string,
  tags: Record<string, string> = { Amount: "1" },
): Promise<bigint> {
  const res = await client.schedule({ processId, messages: [wire(tags)] });
  const slot = res.assignments[0]?.slot;
  if (slot === undefined) throw new Error("Schedule returned no assignment");
  return slot;
}
