/**
 * The Python client example (examples/python/) against a live server: its stubs are
 * generated from proto/ by generate.sh with Debian's protoc and grpc_python_plugin, and
 * client.py runs under Debian's /usr/bin/python3 (python3-grpcio). Machines without those
 * packages skip this test; CI does not install them.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, expect, it } from "vitest";
import { message, messageId } from "../../src/core/message.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg, tagsOf } from "../support/wire.js";

const PYTHON = "/usr/bin/python3";
const exampleDir = fileURLToPath(new URL("../../examples/python/", import.meta.url));
const run = promisify(execFile);

/** Why the example cannot run here, or undefined when it can (the same tools generate.sh looks for). */
function missingTools(): string | undefined {
  const py = spawnSync(PYTHON, ["-c", "import grpc, google.protobuf"], { stdio: "ignore", timeout: 10_000 });
  if (py.status !== 0) return `${PYTHON} cannot import grpc and google.protobuf (apt-get install python3-grpcio)`;
  const has = (cmd: string) => spawnSync("sh", ["-c", `command -v "${cmd}"`], { stdio: "ignore" }).status === 0;
  if (!has("${PROTOC:-protoc}")) return "no protoc on PATH (apt-get install protobuf-compiler)";
  if (!has("${GRPC_PYTHON_PLUGIN:-grpc_python_plugin}")) {
    return "no grpc_python_plugin on PATH (apt-get install protobuf-compiler-grpc)";
  }
  return undefined;
}
const missing = missingTools();

let s: TestServer | undefined;
let genDir: string | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
  if (genDir) await rm(genDir, { recursive: true, force: true });
  genDir = undefined;
});

type Line = Record<string, unknown> & { event: string };

const title = "generates Python stubs from proto/ and runs examples/python/client.py against a live server";
it.skipIf(missing !== undefined)(
  missing ? `${title} (skipped: ${missing})` : title,
  async () => {
    genDir = await mkdtemp(join(tmpdir(), "procworker-python-gen-"));
    await run("sh", [join(exampleDir, "generate.sh"), genDir], { timeout: 30_000 });

    s = await startTestServer();
    // execFile, not spawnSync: the server runs in this process and must keep serving.
    const { stdout } = await run(PYTHON, [join(exampleDir, "client.py"), "--address", s.address], {
      timeout: 30_000,
      env: { ...process.env, PYTHONPATH: genDir, PYTHONDONTWRITEBYTECODE: "1" },
    });
    const lines = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Line);
    const all = (event: string) => lines.filter((l) => l.event === event).map(({ event: _, ...rest }) => rest);
    const one = (event: string) => {
      const found = all(event);
      expect(found, event).toHaveLength(1);
      return found[0];
    };

    // Ids: the server's, Python's own computation and the TypeScript one agree.
    const spawnTags = { "Execution-Device": "counter@1.0", Initial: "10" };
    const processId = messageId(message(spawnTags));
    expect(one("spawned")).toEqual({ process_id: processId, local_id: processId });
    expect(one("scheduled")).toEqual({
      assignments: ["5", "2", "two"].map((Amount, i) => ({ slot: i + 1, message_id: messageId(message({ Amount })) })),
    });

    const computed = [
      { slot: 0, tags: { Total: "10" } },
      { slot: 1, tags: { Total: "15" } },
      { slot: 2, tags: { Total: "17" } },
      { slot: 3, error: { phase: "compute", message: 'Amount must be an integer, got "two"' } },
    ];
    expect(all("computed")).toEqual(computed);
    const slot4 = { slot: 4, tags: { Total: "20" } };
    expect(all("subscribed")).toEqual([...computed, slot4]);
    expect(one("awaited")).toEqual(slot4);
    expect(all("subscribe_failed")).toEqual([]);

    expect(all("error")).toMatchObject([
      { rpc: "Compute", code: "OUT_OF_RANGE", details: expect.stringContaining("18446744073709551615") },
      { rpc: "Schedule", code: "NOT_FOUND" },
      { rpc: "Await", code: "DEADLINE_EXCEEDED" },
    ]);
    expect(all("worker")).toContainEqual({ process_id: processId, state: "idle", at_slot: 4 });
    expect(one("stopped")).toEqual({ stopped: true, at_slot: 4 });
    expect(lines.at(-1)).toEqual({ event: "done" });

    // The TypeScript client sees the same process and results.
    const again = await s.client.spawn({ process: msg(spawnTags), module: Buffer.alloc(0) });
    expect(again.processId).toBe(processId);
    const stored = await s.client.await({ processId, slot: 4n }, { timeoutMs: 5_000 });
    expect(tagsOf(stored.result)).toEqual({ Total: "20" });
  },
  60_000,
);
