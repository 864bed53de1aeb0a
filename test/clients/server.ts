/**
 * A procworker server for the client tests, as a person starts one: `procworker serve` in a
 * child process (run from source by tsx, so no build is needed), on 127.0.0.1 port 0 with
 * LMDB in a fresh temp dir. `stop` shuts it down with SIGTERM and resolves with its exit
 * code (0 after a graceful shutdown), then removes the data dir.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startChildServer } from "../support/child-server.js";

/** A running server: where it listens, and how to stop it. */
export interface ServeProcess {
  address: string;
  stop: () => Promise<number | null>;
}

/** Starts `procworker serve` and resolves once it logs that it listens. */
export async function startServe(): Promise<ServeProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), "procworker-clients-"));
  const server = await startChildServer(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve"], {
    PROCWORKER_HOST: "127.0.0.1",
    PROCWORKER_DATA_DIR: dataDir,
    PROCWORKER_LOG_LEVEL: "info", // the "listening" line carries the port
  });
  return {
    address: `127.0.0.1:${server.port}`,
    async stop() {
      try {
        return await server.signalGroup("SIGTERM");
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}
