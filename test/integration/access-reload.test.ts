/**
 * SIGHUP re-reads the tokens file of a running server (a child process): new tokens work at
 * once, removed ones stop working, a file that does not parse keeps the tokens in force and
 * logs an error; no token ever reaches the log.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ProcworkerClient } from "../../src/service/client.js";
import { startChildServer, type ChildServer } from "../support/child-server.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "procworker-reload-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FIRST = "first-token-0123456789abcdef";
const SECOND = "second-token-0123456789abcdef";

/** Resolves with the next log line of `event` the server writes after this call. */
function nextLog(server: ChildServer, event: string): Promise<Record<string, unknown>> {
  const lines = createInterface({ input: server.child.stdout! });
  return new Promise((resolve) => {
    lines.on("line", (line) => {
      if (!line.includes(`"event":"${event}"`)) return;
      lines.close();
      resolve(JSON.parse(line) as Record<string, unknown>);
    });
  });
}

const codeOf = (call: Promise<unknown>): Promise<number> =>
  call.then(
    () => status.OK,
    (e: ServiceError) => e.code,
  );

it("reloads the tokens file on SIGHUP, and keeps the tokens in force when the new file is bad", async () => {
  const file = join(dir, "tokens");
  await writeFile(file, `write ${FIRST}\n`);
  const server = await startChildServer("sh", ["-c", "exec node --import tsx src/cli/main.ts serve"], {
    PROCWORKER_DATA_DIR: join(dir, "data"),
    PROCWORKER_AUTH_TOKENS_FILE: file,
  });
  const address = `127.0.0.1:${server.port}`;
  const first = new ProcworkerClient(address, { token: FIRST });
  const second = new ProcworkerClient(address, { token: SECOND });
  try {
    expect(await codeOf(first.listWorkers())).toBe(status.OK);
    expect(await codeOf(second.listWorkers())).toBe(status.UNAUTHENTICATED);

    await writeFile(file, `# rotated\nread ${SECOND}\n`);
    const reloaded = nextLog(server, "tokens_reloaded");
    process.kill(server.child.pid!, "SIGHUP");
    expect(await reloaded).toMatchObject({ read: 1, write: 0 });
    expect(await codeOf(second.listWorkers())).toBe(status.OK);
    expect(await codeOf(first.listWorkers())).toBe(status.UNAUTHENTICATED);

    await writeFile(file, `read ${SECOND}\nroot ${FIRST}\n`);
    const failed = nextLog(server, "tokens_reload_failed");
    process.kill(server.child.pid!, "SIGHUP");
    expect((await failed)["error"]).toBe("tokens file line 2: expected `read TOKEN` or `write TOKEN`");
    expect(await codeOf(second.listWorkers())).toBe(status.OK);
    expect(await codeOf(first.listWorkers())).toBe(status.UNAUTHENTICATED);
  } finally {
    first.close();
    second.close();
    expect(await server.signalGroup("SIGTERM")).toBe(0);
  }
  const log = [...server.stdout, ...server.stderr].join("\n");
  expect(log).not.toContain(FIRST);
  expect(log).not.toContain(SECOND);
}, 60_000);
