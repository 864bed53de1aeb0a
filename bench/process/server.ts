/**
 * A procworker server in a process of its own (127.0.0.1:0, LMDB in a fresh temp dir, silent
 * logs, default options unless the client overrides some), driven by the client over IPC:
 * its CPU time, heap and profiles are the server's alone. It runs the compiled server
 * (dist/, `npm run build`, which bench/run.ts runs first), as `npm start` does, not the
 * TypeScript sources through tsx.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../../src/core/config.js";
import type { RunningServer } from "../../src/service/server.js";
import { serveCommands } from "../lib/child.js";
import { probeCommands } from "../lib/probe.js";

const dist = new URL("../../dist/", import.meta.url);
const { defaultConfig } = (await import(
  new URL("core/config.js", dist).href
)) as typeof import("../../src/core/config.js");
const { silentLogger } = (await import(new URL("core/log.js", dist).href)) as typeof import("../../src/core/log.js");
const { startServer } = (await import(
  new URL("service/server.js", dist).href
)) as typeof import("../../src/service/server.js");

let server: RunningServer | undefined;
let dataDir: string | undefined;

serveCommands(
  {
    ...probeCommands,
    start: async (overrides: Partial<Config> = {}): Promise<{ address: string }> => {
      dataDir = await mkdtemp(join(tmpdir(), "procworker-bench-"));
      const config = defaultConfig({ host: "127.0.0.1", port: 0, dataDir, logLevel: "silent", ...overrides });
      server = await startServer({ config, logger: silentLogger() });
      return { address: `127.0.0.1:${server.port}` };
    },
    /** Live workers, their state bytes, and the callers attached. */
    engine: () => ({ ...server?.engine.workerTotals(), ...server?.engine.attached() }),
  },
  async () => {
    await server?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  },
);
