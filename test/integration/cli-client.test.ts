/**
 * The CLI's client commands against a live server: JSON out, exit codes, status on failure.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { runClientCommand } from "../../src/service/client-commands.js";
import { startTestServer, type TestServer } from "../support/server.js";

let s: TestServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await s?.close();
  s = undefined;
});

/** Runs a command and returns its exit code and the JSON lines it printed. */
async function run(command: string, ...args: string[]): Promise<{ code: number; out: unknown[]; err: string }> {
  const out: unknown[] = [];
  let err = "";
  vi.spyOn(console, "log").mockImplementation((line: string) => void out.push(JSON.parse(line)));
  vi.spyOn(console, "error").mockImplementation((line: string) => void (err += line));
  const code = await runClientCommand(command, [...args, "--address", s!.address]);
  vi.restoreAllMocks();
  return { code, out, err };
}

describe("procworker client commands", () => {
  it("spawn, schedule, compute, await, group, workers and stop print JSON and exit 0", async () => {
    s = await startTestServer();
    const spawned = await run("spawn", "--tag", "Execution-Device=counter@1.0", "--tag", "Initial=4");
    expect(spawned.code).toBe(0);
    const { processId } = spawned.out[0] as { processId: string };
    expect((await run("schedule", processId, "--tag", "Amount=3")).out).toEqual([
      { assignments: [{ slot: "1", messageId: expect.any(String) }] },
    ]);
    const computed = await run("compute", processId);
    expect(computed.out.map((r) => (r as { slot: string }).slot)).toEqual(["0", "1"]);
    expect(computed.out.map((r) => (r as { output: { tags: { Total: string } } }).output.tags.Total)).toEqual([
      "4",
      "7",
    ]);
    expect((await run("await", processId, "--slot", "1")).out[0]).toMatchObject({
      slot: "1",
      output: { data: "Nw==" },
    });
    expect((await run("group", processId)).out[0]).toEqual({ group: processId, kind: "GROUP_KIND_WORKER" });
    expect((await run("workers")).out[0]).toMatchObject({ workers: [{ processId, state: "idle", atSlot: "1" }] });
    expect((await run("stop", processId)).out[0]).toEqual({ stopped: true, atSlot: "1" });
  });

  it("exits 1 with the status on a failed call and 2 on an unknown command", async () => {
    s = await startTestServer();
    const failed = await run("compute", "not-an-id");
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(/status 3: process id "not-an-id" is not an id/);
    expect((await run("frobnicate")).code).toBe(2);
  });
});
