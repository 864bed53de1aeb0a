/**
 * The `procworker` command against a live server in JSON mode (stdout not a terminal):
 * every command's JSON lines and exit code, `--help` for each command, global options
 * before and after the command, PROCWORKER_ADDRESS, and how failures read. Most runs are
 * in this process (runHere: the same code, captured streams); the executable itself runs
 * as a child process where the process matters (exit codes, environment, SIGINT).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { compileKvWat } from "../../examples/build.mjs";
import { CLIENT_COMMANDS } from "../../src/cli/client-commands.js";
import { jsonLines, runCli, runHere, startCli } from "../support/cli.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg } from "../support/wire.js";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** Runs a command against the test server (`--address` last) and expects exit 0 and no stderr. */
async function ok(...args: string[]): Promise<unknown[]> {
  const run = await runHere([...args, "--address", s!.address]);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  return jsonLines(run.stdout);
}

describe("procworker client commands (JSON lines when piped)", () => {
  it("spawn, schedule, compute, await, dry-run, get, log, group, workers and stop", async () => {
    s = await startTestServer();
    const [spawned] = await ok("spawn", "--tag", "Execution-Device=counter@1.0", "--tag", "Initial=4");
    const { processId } = spawned as { processId: string };
    expect(processId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await ok("schedule", processId, "--tag", "Amount=3", "--data", "three")).toEqual([
      { assignments: [{ slot: "1", messageId: expect.any(String) }] },
    ]);
    await ok("schedule", processId, "--tag", "Amount=x");
    const computed = (await ok("compute", processId)) as { slot: string; messageId: string }[];
    expect(computed.map((r) => r.slot)).toEqual(["0", "1", "2"]);
    expect(computed[1]).toEqual({
      processId,
      slot: "1",
      messageId: expect.any(String),
      output: { tags: { Total: "7" }, data: "Nw==" },
    });
    expect(computed[2]).toMatchObject({
      slot: "2",
      error: { phase: "compute", attemptedSlot: "2", message: expect.stringContaining("Amount") },
    });
    // A target already computed gives just its stored result.
    expect(await ok("compute", processId, "--slot", "1")).toEqual([computed[1]]);
    expect(await ok("await", processId, "--slot", "1")).toEqual([computed[1]]);
    expect(await ok("dry-run", processId, "--tag", "Amount=10")).toEqual([
      { processId, slot: "2", messageId: expect.any(String), output: { tags: { Total: "17" }, data: "MTc=" } },
    ]);
    expect(await ok("get", processId)).toEqual([
      {
        processId,
        process: { tags: { "Execution-Device": "counter@1.0", Initial: "4" }, data: "" },
        device: "counter@1.0",
        latestScheduledSlot: "2",
        latestComputedSlot: "2",
        latestSnapshotSlot: expect.any(String),
        worker: expect.objectContaining({ processId, state: "idle", atSlot: "2" }),
      },
    ]);
    const log = (await ok("log", processId, "--from", "1", "--to", "1")) as Record<string, unknown>[];
    expect(log).toEqual([
      {
        slot: "1",
        messageId: computed[1]!.messageId,
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        message: { tags: { Amount: "3" }, data: Buffer.from("three").toString("base64") },
      },
    ]);
    expect(((await ok("log", processId)) as { slot: string }[]).map((e) => e.slot)).toEqual(["0", "1", "2"]);
    expect(await ok("group", processId)).toEqual([{ group: processId, kind: "GROUP_KIND_WORKER" }]);
    expect(await ok("group", processId, "--path", "now", "--slot", "3")).toEqual([
      { group: expect.stringMatching(/^default:/), kind: "GROUP_KIND_DEFAULT" },
    ]);
    expect(await ok("workers")).toEqual([
      { workers: [expect.objectContaining({ processId, state: "idle", atSlot: "2", node: s.address })] },
    ]);
    expect(await ok("stop", processId)).toEqual([{ stopped: true, atSlot: "2" }]);
    expect(await ok("stop", processId, "--skip-snapshot")).toEqual([{ stopped: false, atSlot: "2" }]);
    expect(await ok("workers")).toEqual([{ workers: [] }]);
  });

  it("spawn --module sends the module file's bytes", async () => {
    s = await startTestServer();
    const dir = await mkdtemp(join(tmpdir(), "procworker-cli-"));
    try {
      const file = join(dir, "kv.wasm");
      await writeFile(file, await compileKvWat());
      const [spawned] = await ok("spawn", "--tag", "Execution-Device=wasm@1.0", "--module", file);
      const { processId } = spawned as { processId: string };
      const [process] = (await ok("get", processId)) as { device: string; process: { tags: object } }[];
      expect(process!.device).toBe("wasm@1.0");
      expect(process!.process.tags).toHaveProperty("Module");
      const missing = await runHere(["spawn", "--module", join(dir, "nope.wasm"), "--address", s.address]);
      expect(missing).toMatchObject({ code: 1, stdout: "" });
      expect(missing.stderr).toMatch(/^procworker spawn: cannot read --module .*nope\.wasm: ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("subscribe prints each result as it arrives and exits 0 on SIGINT", async () => {
    s = await startTestServer();
    const { processId } = await s.client.spawn({
      process: msg({ "Execution-Device": "counter@1.0" }),
      module: Buffer.alloc(0),
    });
    await s.client.schedule({ processId, messages: [msg({ Amount: "2" })] });
    const following = startCli(["subscribe", processId, "--from", "1", "--address", s.address]);
    await following.waitFor(/"slot":"1"/);
    await s.client.schedule({ processId, messages: [msg({ Amount: "5" })] });
    await following.waitFor(/"slot":"2"/);
    following.child.kill("SIGINT");
    const run = await following.done;
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    expect(jsonLines(run.stdout).map((r) => (r as { output: { tags: { Total: string } } }).output.tags.Total)).toEqual([
      "2",
      "7",
    ]);
  });
});

describe("procworker's command line", () => {
  it("takes the global options before or after the command, and PROCWORKER_ADDRESS (the flag wins)", async () => {
    s = await startTestServer();
    const dead = "127.0.0.1:1";
    const runs = await Promise.all([
      runHere(["--address", s.address, "--json", "workers"]),
      runHere(["workers", "--json", `--address=${s.address}`]),
      runHere(["--timeout-ms", "5000", "workers"], { env: { PROCWORKER_ADDRESS: s.address } }),
      runHere(["workers", "--address", s.address], { env: { PROCWORKER_ADDRESS: dead } }),
    ]);
    for (const run of runs) expect(run).toEqual({ code: 0, stdout: '{"workers":[]}\n', stderr: "" });
    const unreachable = await runHere(["workers"], { env: { PROCWORKER_ADDRESS: dead } });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^UNAVAILABLE: .*127\.0\.0\.1:1/);
  });

  it("has --help for each command: its usage, options and the global options, exit 0", async () => {
    const runs = await Promise.all(CLIENT_COMMANDS.map((c) => runHere([c.name, "--help"])));
    CLIENT_COMMANDS.forEach((command, i) => {
      const run = runs[i]!;
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
      expect(run.stdout).toMatch(new RegExp(`^usage: procworker ${command.name} ${command.args.join(" ")}`));
      for (const option of [...Object.keys(command.options), "address", "json", "timeout-ms", "help"])
        expect(run.stdout).toContain(`--${option}`);
    });
    // The same help whichever way it is asked for, even on a line with other mistakes.
    const [help, short, before, mistaken] = await Promise.all([
      runHere(["help", "compute"]),
      runHere(["compute", "-h"]),
      runHere(["--help", "compute"]),
      runHere(["compute", "--bogus", "--help"]),
    ]);
    for (const run of [short, before, mistaken]) expect(run).toEqual(help);
    const [top, serve] = await Promise.all([runHere(["help"]), runHere(["serve", "--help"])]);
    for (const command of CLIENT_COMMANDS) expect(top.stdout).toContain(`  ${command.name} `);
    expect(serve.stdout).toMatch(/^usage: procworker serve \[options\]/);
    expect(serve.stdout).toContain("--process-worker-max-idle");
    expect(serve.stdout).toContain("PROCWORKER_PROCESS_WORKER_MAX_IDLE");
  });

  it("reports a failed call by its status name on stderr and exits 1", async () => {
    s = await startTestServer();
    const unknown = "A".repeat(43);
    const { processId } = await s.client.spawn({
      process: msg({ "Execution-Device": "counter@1.0" }),
      module: Buffer.alloc(0),
    });
    const [notFound, invalid, outOfRange, deadline] = await Promise.all([
      runHere(["get", unknown, "--address", s.address]),
      runHere(["compute", "not-an-id", "--address", s.address]),
      runHere(["compute", processId, "--slot", "9", "--address", s.address]),
      runHere(["await", processId, "--slot", "1", "--timeout-ms", "200", "--address", s.address]),
    ]);
    expect(notFound).toEqual({ code: 1, stdout: "", stderr: `NOT_FOUND: process ${unknown} not found\n` });
    expect(invalid).toEqual({
      code: 1,
      stdout: "",
      stderr: 'INVALID_ARGUMENT: process id "not-an-id" is not an id (43 base64url characters)\n',
    });
    expect(outOfRange).toEqual({
      code: 1,
      stdout: "",
      stderr: `OUT_OF_RANGE: slot 9 of process ${processId} is not scheduled (latest is 0)\n`,
    });
    expect(deadline).toMatchObject({ code: 1, stdout: "" });
    // The server ends a wait just before the caller's deadline (its own words), or the client's
    // timer fires first (grpc-js's words, trimmed): one line either way.
    expect(deadline.stderr).toMatch(
      /^DEADLINE_EXCEEDED: (the call's deadline is due|Deadline exceeded after [0-9.]+s)\n$/,
    );
  });

  it("exits 2 on a usage error, with the message and the command's usage on stderr", async () => {
    const cases: [string[], string][] = [
      [["compute"], "procworker compute: missing PROCESS"],
      [["compute", "P", "extra"], 'procworker compute: unexpected argument "extra"'],
      [["compute", "P", "--bogus"], "procworker compute: unknown option --bogus"],
      [["compute", "P", "--slot", "x"], 'procworker compute: --slot takes a slot number, got "x"'],
      [["compute", "P", "--slot"], "procworker compute: option --slot needs a value"],
      [["schedule", "P", "--tag", "Amount"], 'procworker schedule: --tag takes NAME=VALUE, got "Amount"'],
      [["schedule", "P", "--tag", "A=1", "--tag", "A=2"], 'procworker schedule: tag "A" given twice'],
      [
        ["workers", "--timeout-ms", "soon"],
        'procworker workers: --timeout-ms takes a positive whole number of ms, got "soon"',
      ],
    ];
    const runs = await Promise.all(cases.map(([args]) => runHere(args)));
    cases.forEach(([args, message], i) => {
      const run = runs[i]!;
      expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: "" });
      expect(run.stderr).toMatch(
        new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n\nusage: procworker ${args[0]} `),
      );
    });
    const [unknown, none, serve] = await Promise.all([
      runHere(["frobnicate"]),
      runHere([]),
      runHere(["serve", "--port", "x"]),
    ]);
    expect(unknown).toMatchObject({ code: 2, stdout: "" });
    expect(unknown.stderr).toMatch(/^procworker: unknown command "frobnicate"\n\nusage: procworker COMMAND/);
    expect(none).toMatchObject({ code: 2, stdout: "" });
    expect(none.stderr).toMatch(/^procworker: a command is required\n/);
    expect(serve).toMatchObject({ code: 2, stdout: "" });
    expect(serve.stderr).toMatch(
      /^procworker serve: option port \(--port \/ PROCWORKER_PORT\): expected a whole number/,
    );
  });
});

describe("the procworker executable", () => {
  it("exits 0, 1 or 2 and reads PROCWORKER_ADDRESS from its environment", async () => {
    s = await startTestServer();
    const [listed, fromEnv, notFound, usage] = await Promise.all([
      runCli(["--json", "workers", "--address", s.address]),
      runCli(["workers"], { PROCWORKER_ADDRESS: s.address }),
      runCli(["get", "A".repeat(43), "--address", s.address]),
      runCli(["compute"]),
    ]);
    expect(listed).toEqual({ code: 0, stdout: '{"workers":[]}\n', stderr: "" });
    expect(fromEnv).toEqual(listed);
    expect(notFound).toEqual({ code: 1, stdout: "", stderr: `NOT_FOUND: process ${"A".repeat(43)} not found\n` });
    expect(usage).toMatchObject({ code: 2, stdout: "" });
    expect(usage.stderr).toMatch(/^procworker compute: missing PROCESS\n\nusage: procworker compute PROCESS/);
  });
});
