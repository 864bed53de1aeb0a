// `npm run test:clients` runs these tests (test/clients/*.e2e.ts) after
// scripts/clients/install.sh has installed the client tools: grpcurl on the README's
// walk-through, the Python example and the Go example, each against its own server.
// `npm test` does not pick them up (its pattern is *.test.ts).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/clients/**/*.e2e.ts"],
    testTimeout: 300_000,
    hookTimeout: 60_000,
    pool: "forks",
    // The tests mostly wait on child processes (servers, clients, the CLI's build), so
    // they run side by side even on two cores.
    maxWorkers: 4,
  },
});
