/**
 * The `procworker` command on a terminal, against a live server: aligned tables for
 * `workers` and `get`, one line per result, the `compute` progress bar on stderr, and
 * `subscribe` following until Ctrl-C.
 *
 * Two ways to get a terminal. In this process, runHere hands the command streams that say
 * they are terminals (exact text, fast). For the real thing, the command runs in a
 * pseudo-terminal made by util-linux `script -qfec CMD /dev/null` (test/support/cli.ts):
 * `script` is in Debian's essential bsdutils package, so it is on this machine and on the
 * CI image (the same Debian), and needs no native build, unlike node-pty (a compiler and
 * node-gyp at install time). Ctrl-C is a `\x03` written to the terminal.
 */
import { afterEach, describe, expect, it } from "vitest";
import { jsonLines, runHere, runInPty, startInPty } from "../support/cli.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg } from "../support/wire.js";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** A counter process (Initial=4) with `amounts` scheduled; returns its id. */
async function counter(server: TestServer, ...amounts: string[]): Promise<string> {
  const { processId } = await server.client.spawn({
    process: msg({ "Execution-Device": "counter@1.0", Initial: "4", Name: String(amounts.length) }),
    module: Buffer.alloc(0),
  });
  for (const amount of amounts) await server.client.schedule({ processId, messages: [msg({ Amount: amount })] });
  return processId;
}

/** The bar's erase: carriage return, then erase to the end of the line (a regular expression). */
const ERASE = "\\r\\x1b\\[K";

/** Where each column of a table line starts (cells are two or more spaces apart). */
const starts = (line: string): number[] =>
  [...line.matchAll(/(?:^|\s{2,})(\S)/g)].map((m) => m.index! + m[0].length - 1);
/** Where each column of a table line ends. */
const ends = (line: string): number[] => [...line.matchAll(/(\S)(?:\s{2,}|$)/g)].map((m) => m.index! + 1);

describe("procworker on a terminal (in this process)", () => {
  it("workers is a table: a heading, one row per worker, left and right aligned columns", async () => {
    s = await startTestServer();
    const few = await counter(s, "1");
    const many = await counter(s, ...Array.from({ length: 11 }, () => "1"));
    await s.client.await({ processId: few, slot: 1n });
    await s.client.await({ processId: many, slot: 11n });
    const run = await runHere(["workers", "--address", s.address], { terminal: true });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    const [heading, ...rows] = run.stdout.trimEnd().split("\n");
    expect(heading!.split(/\s{2,}/)).toEqual([
      "PROCESS",
      "STATE",
      "SLOT",
      "MAILBOX",
      "WAITERS",
      "SUBSCRIBERS",
      "IDLE",
      "MEMORY",
      "NODE",
    ]);
    expect(rows.map((r) => r.split(/\s{2,}/).filter((_, i) => i !== 6 && i !== 7)).sort()).toEqual(
      [
        [few, "idle", "1", "0", "0", "0", s.address],
        [many, "idle", "11", "0", "0", "0", s.address],
      ].sort(),
    );
    // Text columns start under their heading, number columns end under it.
    for (const row of rows) {
      const [h, r] = [starts(heading!), starts(row)];
      const [he, re] = [ends(heading!), ends(row)];
      expect([r[0], r[1], r[8]]).toEqual([h[0], h[1], h[8]]);
      expect(re.slice(2, 8)).toEqual(he.slice(2, 8));
    }
  });

  it("get is a two-column table of the process", async () => {
    s = await startTestServer();
    const processId = await counter(s, "3");
    await s.client.await({ processId, slot: 1n });
    const run = await runHere(["get", processId, "--address", s.address], { terminal: true });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines.filter((l) => !l.startsWith("worker") && !l.startsWith("snapshot"))).toEqual([
      `process    ${processId}`,
      "device     counter@1.0",
      "scheduled  1",
      "computed   1",
      "tags       Execution-Device=counter@1.0",
      "           Initial=4",
      "           Name=1",
    ]);
    expect(lines).toContainEqual(expect.stringMatching(/^snapshot {3}(-|\d+)$/));
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^worker {5}idle at slot 1 on ${s.address} \\(mailbox 0, waiters 0, subscribers 0, idle \\S+, 6\\d B\\)$`,
        ),
      ),
    );
  });

  it("the other commands print a line each; --json still prints JSON", async () => {
    s = await startTestServer();
    const a = ["--address", s.address];
    const processId = await counter(s, "3", "x");
    const here = async (...args: string[]): Promise<string> => {
      const run = await runHere([...args, ...a], { terminal: true });
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
      return run.stdout;
    };
    expect(await here("await", processId, "--slot", "1")).toBe('slot 1: Total=7  data "7"\n');
    expect(await here("await", processId, "--slot", "2")).toBe(
      'slot 2: error (compute): Amount must be an integer, got "x"\n',
    );
    expect(await here("dry-run", processId, "--tag", "Amount=1")).toBe('dry run after slot 2: Total=8  data "8"\n');
    expect(await here("schedule", processId, "--tag", "Amount=2", "--data", "two words")).toMatch(
      /^slot 3 {2}message [\w-]{43}\n$/,
    );
    expect(await here("log", processId, "--from", "2")).toMatch(
      /^slot 2 {2}\S+Z {2}Amount=x\nslot 3 {2}\S+Z {2}Amount=2 {2}data "two words"\n$/,
    );
    expect(await here("group", processId)).toBe(`${processId}  (worker group)\n`);
    expect(await here("stop", processId)).toBe("stopped (at slot 2)\n");
    expect(await here("stop", processId)).toBe("no live worker (at slot 2)\n");
    expect(await here("workers")).toBe("no live workers\n");
    expect(await here("spawn", "--tag", "Execution-Device=counter@1.0")).toMatch(/^[\w-]{43}\n$/);
    expect(jsonLines(await here("await", processId, "--slot", "1", "--json"))).toEqual([
      expect.objectContaining({ slot: "1", output: { tags: { Total: "7" }, data: "Nw==" } }),
    ]);
  });

  it("compute draws a progress bar on stderr, then prints the failed slots and the last result", async () => {
    s = await startTestServer();
    const processId = await counter(s, "3", "x", "1");
    const run = await runHere(["compute", processId, "--address", s.address], { terminal: true });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('slot 2: error (compute): Amount must be an integer, got "x"\nslot 3: Total=8  data "8"\n');
    // The empty bar at once, the full one at the end, erased before each stdout line and at the end.
    expect(run.stderr.startsWith(`\r[${"░".repeat(40)}] 0/4 slots  - slots/s\x1b[K`)).toBe(true);
    expect(run.stderr).toMatch(new RegExp(`\\r\\[${"█".repeat(40)}\\] 4/4 slots {2}[0-9.]+ slots/s\\x1b\\[K`));
    expect(run.stderr).toMatch(new RegExp(`${ERASE}computed 4 slots in [0-9.]+s \\([0-9.]+ slots/s\\), 1 failed\n$`));
  });

  it("compute piped with stderr on a terminal: JSON lines on stdout, the bar on stderr, a target already computed", async () => {
    s = await startTestServer();
    const processId = await counter(s, "3", "4");
    const run = await runHere(["compute", processId, "--slot", "1", "--address", s.address], { terminal: "stderr" });
    expect(jsonLines(run.stdout).map((r) => (r as { slot: string }).slot)).toEqual(["0", "1"]);
    expect(run.stderr).toContain("] 2/2 slots");
    const again = await runHere(["compute", processId, "--slot", "1", "--address", s.address], { terminal: "stderr" });
    expect(jsonLines(again.stdout).map((r) => (r as { slot: string }).slot)).toEqual(["1"]);
    expect(again.stderr).toMatch(new RegExp(`${ERASE}computed 1 slot in `));
  });
});

describe("procworker in a pseudo-terminal", () => {
  it("detects the terminal: a table, a progress bar, errors by status name", async () => {
    s = await startTestServer();
    const processId = await counter(s, "3", "4");
    const a = ["--address", s.address];
    const computed = await runInPty(["compute", processId, ...a]);
    expect(computed.code).toBe(0);
    expect(computed.stdout).toMatch(/^\r\[░+\] 0\/3 slots/);
    expect(computed.stdout).toContain("] 3/3 slots");
    expect(computed.stdout).toMatch(/slot 2: Total=11 {2}data "11"\ncomputed 3 slots in [0-9.]+s/);
    const [table, piped, missing] = await Promise.all([
      runInPty(["workers", ...a]),
      runInPty(["workers", ...a], {}, "| cat"),
      runInPty(["get", "A".repeat(43), ...a]),
    ]);
    expect(table.stdout).toMatch(new RegExp(`^PROCESS +STATE +SLOT .* NODE\n${processId} +idle +2 `));
    expect(piped).toMatchObject({ code: 0 });
    expect(jsonLines(piped.stdout)).toEqual([{ workers: [expect.objectContaining({ processId })] }]);
    expect(missing).toEqual({ code: 1, stdout: `NOT_FOUND: process ${"A".repeat(43)} not found\n`, stderr: "" });
  });

  it("subscribe follows like tail -f and exits 0 on Ctrl-C", async () => {
    s = await startTestServer();
    const processId = await counter(s, "3");
    const following = startInPty(["subscribe", processId, "--address", s.address]);
    await following.waitFor(/slot 1: Total=7/);
    await s.client.schedule({ processId, messages: [msg({ Amount: "5" })] });
    await following.waitFor(/slot 2: Total=12/);
    following.child.stdin!.write("\x03");
    const run = await following.done;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^slot 0: Total=4 {2}data "4"\nslot 1: Total=7 {2}data "7"\nslot 2: Total=12 {2}data "12"\n/,
    );
  });
});
