/**
 * A real server for integration tests: 127.0.0.1 port 0, LMDB in a fresh temp dir, a
 * client, and a close that first asserts nothing leaked (no waiters, streams or calls left).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { defaultConfig, type Config } from "../../src/core/config.js";
import { silentLogger, type Logger } from "../../src/core/log.js";
import type { Device } from "../../src/device/device.js";
import type { Store } from "../../src/store/store.js";
import { ProcworkerClient, type ClientOptions } from "../../src/service/client.js";
import { startServer, type RunningServer } from "../../src/service/server.js";
import { until } from "./until.js";

export interface TestServer {
  server: RunningServer;
  client: ProcworkerClient;
  address: string;
  dataDir: string;
  config: Config;
  /** A second client on the same server (each has its own HTTP/2 connection). */
  newClient: () => ProcworkerClient;
  /** Asserts no leaks (unless told which workers may stay), closes everything, removes the data dir. */
  close: (opts?: { keepData?: boolean }) => Promise<void>;
}

export async function startTestServer(
  overrides: Partial<Config> = {},
  opts: { dataDir?: string; devices?: Device[]; store?: Store; client?: ClientOptions; logger?: Logger } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), "procworker-test-")));
  const config = defaultConfig({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    wasmThreads: 2,
    logLevel: "silent",
    ...overrides,
  });
  const server = await startServer({
    config,
    logger: opts.logger ?? silentLogger(),
    ...(opts.devices ? { devices: opts.devices } : {}),
    ...(opts.store ? { store: opts.store } : {}),
  });
  const address = `127.0.0.1:${server.port}`;
  const clients: ProcworkerClient[] = [];
  const newClient = (): ProcworkerClient => {
    const c = new ProcworkerClient(address, opts.client);
    clients.push(c);
    return c;
  };
  const client = newClient();
  return {
    server,
    client,
    address,
    dataDir,
    config,
    newClient,
    async close({ keepData = false } = {}) {
      try {
        // Server-side cleanup of a cancelled call follows the client's cancel: wait for it by event.
        const clean = (): boolean => {
          const a = server.engine.attached();
          return a.waiters === 0 && a.streams === 0 && a.hubs === 0;
        };
        await until(server.engine, clean, "every waiter and stream to be gone", 5_000).catch(() => undefined);
        expect(server.engine.attached()).toEqual({ waiters: 0, streams: 0, hubs: 0 });
        expect(server.inFlight.size).toBe(0);
      } finally {
        clients.forEach((c) => c.close());
        await server.close();
        if (!keepData) await rm(dataDir, { recursive: true, force: true });
      }
      expect(server.engine.listWorkers()).toEqual([]);
    },
  };
}
