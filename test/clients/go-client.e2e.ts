/**
 * The Go example (examples/go/) against a live server: `go test` (the message-id vectors,
 * and go vet), then `go run .`, which checks every answer itself and exits non-zero on any
 * mismatch. Its stubs are the committed examples/go/gen/, which `check-generated.sh --go`
 * compares with a fresh `buf generate` before these tests run. The TypeScript client then
 * finds the process the Go client stopped, restored from its snapshot.
 */
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ProcworkerClient } from "../../src/service/client.js";
import { tagsOf } from "../support/wire.js";
import { startServe, type ServeProcess } from "./server.js";
import { ROOT, runTool } from "./tools.js";

const exampleDir = join(ROOT, "examples/go");
// The committed go.mod and go.sum must be complete: never let `go` edit them here.
const env = { ...process.env, GOFLAGS: "-mod=readonly" };

let server: ServeProcess | undefined;
beforeAll(async () => {
  server = await startServe();
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

it("passes its own unit tests (go test ./...)", async () => {
  const tested = await runTool("go", ["test", "./..."], { cwd: exampleDir, env, timeoutMs: 600_000 });
  expect(tested, tested.stdout + tested.stderr).toMatchObject({ code: 0 });
  expect(tested.stdout).toMatch(/^ok\s+procworker\/examples\/go\s/m);
}, 600_000);

it("runs Spawn → Schedule → Subscribe → Await → Stop with a deadline and a cancelled stream, every check passing", async () => {
  const ran = await runTool("go", ["run", ".", "-address", server!.address], {
    cwd: exampleDir,
    env,
    timeoutMs: 600_000,
  });
  expect(ran, ran.stdout + ran.stderr).toMatchObject({ code: 0 });
  const lines = ran.stdout.trim().split("\n");
  expect(lines.filter((l) => l.startsWith("FAIL"))).toEqual([]);
  expect(lines.at(-1)).toMatch(/^go client: all \d+ checks passed$/);
  for (const check of [
    "Subscribe: the cancelled stream: Canceled",
    "Await an unscheduled slot for 200 ms: DeadlineExceeded",
  ]) {
    expect(lines).toContain(`ok    ${check}`);
  }

  // The process the Go client spawned and stopped: the TypeScript client reads slot 3 back.
  const processId = /^ok {4}Spawn: .*: (\S{43})$/m.exec(ran.stdout)?.[1];
  expect(processId).toBeDefined();
  const client = new ProcworkerClient(server!.address);
  try {
    expect((await client.listWorkers()).workers.map((w) => w.processId)).not.toContain(processId);
    const stored = await client.await({ processId: processId!, slot: 3n }, { timeoutMs: 5_000 });
    expect(tagsOf(stored.result)).toEqual({ Total: "20" });
  } finally {
    client.close();
  }
}, 600_000);
