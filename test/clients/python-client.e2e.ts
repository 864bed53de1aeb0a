/**
 * The Python example (examples/python/) against a live server: generate.sh writes its stubs
 * from proto/ with the venv's grpcio-tools (whose bundled protoc must accept proto3
 * `optional`), and client.py runs under the venv's Python. Its JSON lines are checked here,
 * and the TypeScript client then sees the same process and results.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { message, messageId } from "../../src/core/message.js";
import { ProcworkerClient } from "../../src/service/client.js";
import { msg, tagsOf } from "../support/wire.js";
import { startServe, type ServeProcess } from "./server.js";
import { installed, ROOT, runTool, VENV_PYTHON } from "./tools.js";

const exampleDir = join(ROOT, "examples/python");

let server: ServeProcess | undefined;
let genDir: string | undefined;
beforeAll(async () => {
  installed(VENV_PYTHON);
  genDir = await mkdtemp(join(tmpdir(), "procworker-python-gen-"));
  server = await startServe();
});
afterAll(async () => {
  if (genDir) await rm(genDir, { recursive: true, force: true });
  expect(await server?.stop()).toBe(0);
});

type Line = Record<string, unknown> & { event: string };

it("generates stubs from proto/ with grpcio-tools and runs examples/python/client.py", async () => {
  const generated = await runTool("sh", [join(exampleDir, "generate.sh"), genDir!], {
    env: { ...process.env, PYTHON: VENV_PYTHON },
    timeoutMs: 60_000,
  });
  expect(generated, generated.stderr).toMatchObject({ code: 0 });
  expect(generated.stdout).toContain("process_worker_service_pb2_grpc.py");

  const ran = await runTool(VENV_PYTHON, [join(exampleDir, "client.py"), "--address", server!.address], {
    env: { ...process.env, PYTHONPATH: genDir, PYTHONDONTWRITEBYTECODE: "1" },
    timeoutMs: 60_000,
  });
  expect(ran, ran.stderr).toMatchObject({ code: 0 });
  const lines = ran.stdout
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

  expect(all("error")).toEqual([
    {
      rpc: "Compute",
      code: "OUT_OF_RANGE",
      details: `slot 18446744073709551615 of process ${processId} is not scheduled (latest is 4)`,
    },
    { rpc: "Schedule", code: "NOT_FOUND", details: expect.stringMatching(/^process \S{43} not found$/) },
    { rpc: "Await", code: "DEADLINE_EXCEEDED", details: expect.any(String) },
  ]);
  expect(all("worker")).toEqual([{ process_id: processId, state: "idle", at_slot: 4 }]);
  expect(one("stopped")).toEqual({ stopped: true, at_slot: 4 });
  expect(lines.at(-1)).toEqual({ event: "done" });

  // The TypeScript client sees the same process and results (restored after the Stop).
  const client = new ProcworkerClient(server!.address);
  try {
    const again = await client.spawn({ process: msg(spawnTags), module: Buffer.alloc(0) });
    expect(again.processId).toBe(processId);
    const stored = await client.await({ processId, slot: 4n }, { timeoutMs: 5_000 });
    expect(tagsOf(stored.result)).toEqual({ Total: "20" });
  } finally {
    client.close();
  }
});
