/**
 * The walk-through harness itself (reading steps out of Markdown, running them in bash,
 * judging the output), on small documents; part of `npm test`, so it needs only Node and
 * bash. The real README is checked to parse, with ADDR set where the harness expects it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./tools.js";
import { uncalledMethods, walkthroughProblems } from "./walkthrough-check.js";
import { compact, matchesExpected, outputItems } from "./walkthrough-match.js";
import { codeBlocks, walkthroughSteps, withOverrides, type WalkthroughStep } from "./walkthrough-parse.js";
import { runWalkthrough, type WalkthroughRun } from "./walkthrough-run.js";

const doc = [
  "# Title", // 1
  "## Walk", // 2
  "Some text.", // 3
  "```sh", // 4
  "A=1", // 5
  "", // 6
  "# a comment", // 7
  "echo one \\", // 8
  "  two", // 9
  "# → one two", // 10
  "echo x", // 11
  "echo y", // 12
  "# → x", // 13
  "#   y", // 14
  "# next comment", // 15
  "printf 'no expectation\\n'", // 16
  "```", // 17
  "```json", // 18
  '{"not": "shell"}', // 19
  "```", // 20
  "### A subsection", // 21
  "```sh", // 22
  "echo sub", // 23
  "# → sub", // 24
  "```", // 25
  "## Other", // 26
  "```sh", // 27
  "echo elsewhere", // 28
  "```", // 29
].join("\n");

describe("walkthroughSteps", () => {
  it("cuts the section's sh blocks into steps at blank lines, comments and # → output", () => {
    expect(walkthroughSteps(doc, "Walk")).toEqual([
      { line: 5, script: "A=1" },
      { line: 8, script: "echo one \\\n  two", expect: ["one two"] },
      { line: 11, script: "echo x\necho y", expect: ["x", "y"] },
      { line: 16, script: "printf 'no expectation\\n'" },
      { line: 23, script: "echo sub", expect: ["sub"] },
    ]);
    expect(walkthroughSteps(doc, "Other")).toEqual([{ line: 28, script: "echo elsewhere" }]);
  });

  it("rejects a missing heading, output without a command, and an unclosed block", () => {
    expect(() => walkthroughSteps(doc, "Nope")).toThrow('no heading "Nope"');
    expect(() => walkthroughSteps("## W\n```sh\n# → x\n```", "W")).toThrow("line 3: expected output without a command");
    expect(() => walkthroughSteps("## W\n```sh\necho\n", "W")).toThrow('a code block under "W" never ends');
  });
});

describe("codeBlocks", () => {
  it("returns every fenced block of the section and its subsections, with its language and first line", () => {
    expect(codeBlocks(doc, "Walk").map((b) => [b.lang, b.line, b.text.split("\n")[0]])).toEqual([
      ["sh", 5, "A=1"],
      ["json", 19, '{"not": "shell"}'],
      ["sh", 23, "echo sub"],
    ]);
    expect(codeBlocks(doc, "A subsection").map((b) => b.line)).toEqual([23]);
  });
});

describe("withOverrides", () => {
  const steps: WalkthroughStep[] = [{ line: 1, script: "ADDR=127.0.0.1:50051   # the default\nP=$(x)\n  ADDR=again" }];

  it("replaces the value of each assignment at a line's start, keeping the rest of the line", () => {
    expect(withOverrides(steps, { ADDR: "127.0.0.1:4242" })[0]!.script).toBe(
      "ADDR=127.0.0.1:4242   # the default\nP=$(x)\n  ADDR=127.0.0.1:4242",
    );
    expect(withOverrides(steps, { P: "it's" })[0]!.script).toContain("P='it'\\''s'");
  });

  it("throws when a variable is never assigned", () => {
    expect(() => withOverrides(steps, { ADDR: "x", CERT: "y" })).toThrow("the walk-through never assigns CERT");
  });
});

describe("outputItems and matchesExpected", () => {
  const lines = (...texts: string[]) => outputItems(texts.join("\n"));
  const grpcurlOutput = [
    "{",
    '  "result": {',
    '    "slot": "1",',
    '    "output": { "tags": { "Total": "15" } }',
    "  }",
    "}",
    "{",
    '  "result": {}',
    "}",
    "ERROR:",
    "  Code: DeadlineExceeded",
    "  Message: context deadline exceeded",
    "",
  ].join("\n");

  it("makes one compact line per JSON document and one per other line", () => {
    expect(outputItems(grpcurlOutput).map((item) => item.text)).toEqual([
      '{"result": {"slot": "1", "output": {"tags": {"Total": "15"}}}}',
      '{"result": {}}',
      "ERROR:",
      "Code: DeadlineExceeded",
      "Message: context deadline exceeded",
    ]);
    expect(outputItems("{ not json\n")).toEqual([{ text: "{ not json", printed: "{ not json" }]);
    expect(outputItems('{"a":1,"b":[2]}')).toEqual([{ text: '{"a": 1, "b": [2]}', printed: '{"a":1,"b":[2]}' }]);
    expect(compact({ a: [1, "b", null, true], c: {} })).toBe('{"a": [1, "b", null, true], "c": {}}');
  });

  it("matches … inside a line (with the spaces around it) and a line of … as any number of items", () => {
    const items = outputItems(grpcurlOutput);
    expect(matchesExpected(items, [`{"result": {… "slot": "1", …"Total": "15" …}}`, "…", "Message: …"])).toBe(true);
    expect(matchesExpected(items, ["…"])).toBe(true);
    expect(matchesExpected([], ["…"])).toBe(true);
    expect(matchesExpected(lines("a", "b"), ["a", "…", "b"])).toBe(true);
    expect(matchesExpected(lines("a.b"), ["a…"])).toBe(true);
  });

  it("matches a one-line JSON document as printed or in the compact form", () => {
    const items = outputItems('{"slot":"1","tags":{"Total":"15"}}\n');
    expect(matchesExpected(items, ['{"slot":"1",…"Total":"15"…}'])).toBe(true);
    expect(matchesExpected(items, ['{"slot": "1", "tags": {"Total": "15"}}'])).toBe(true);
    expect(matchesExpected(items, ['{"slot":"2"…}'])).toBe(false);
  });

  it("rejects a different line, a missing item and an extra one", () => {
    expect(matchesExpected(lines("a"), ["b"])).toBe(false);
    expect(matchesExpected(lines("a.b"), ["aXb"])).toBe(false); // "." is literal
    expect(matchesExpected(lines("a"), ["a", "b"])).toBe(false);
    expect(matchesExpected(lines("a", "b"), ["a"])).toBe(false);
    expect(matchesExpected([], ["a…"])).toBe(false);
  });
});

describe("runWalkthrough and walkthroughProblems", () => {
  const run = (steps: WalkthroughStep[], timeoutMs = 30_000): Promise<WalkthroughRun> =>
    runWalkthrough(steps, { cwd: ROOT, env: process.env, timeoutMs });

  it("runs steps in one shell: variables carry over, stderr is shown, background jobs end with their step", async () => {
    const steps: WalkthroughStep[] = [
      { line: 1, script: "X=$(echo hello | tr a-z A-Z)", expect: [] },
      { line: 2, script: "echo $X; echo err >&2", expect: ["HELLO", "err"] },
      { line: 3, script: "(echo background) &\necho fore >/dev/null\nwait", expect: ["background"] },
      { line: 4, script: "echo after", expect: ["after"] },
    ];
    const result = await run(steps);
    expect(result.timedOut).toBe(false);
    expect(result.runs.map((r) => [r.output, r.failures])).toEqual([
      ["", 0],
      ["HELLO\nerr\n", 0],
      ["background\n", 0],
      ["after\n", 0],
    ]);
    expect(walkthroughProblems(steps, result)).toEqual([]);
  });

  it("counts failed commands, pipefail included, and reports each wrong step with its README line", async () => {
    const steps: WalkthroughStep[] = [
      { line: 10, script: "P=$(false | cat)", expect: [] },
      { line: 20, script: "echo ERROR:; exit_code() { return 3; }; exit_code", expect: ["ERROR:"] },
      { line: 30, script: "echo fine", expect: ["ERROR:"] },
      { line: 40, script: "echo got", expect: ["wanted"] },
    ];
    const result = await run(steps);
    expect(result.runs.map((r) => r.failures)).toEqual([1, 1, 0, 0]);
    expect(walkthroughProblems(steps, result)).toEqual([
      "README line 10: P=$(false | cat)\n  1 command(s) failed; it printed:\n    (nothing)",
      "README line 30: echo fine\n  should fail (its output shows ERROR:) but succeeded",
      "README line 30: echo fine\n  printed:\n    fine\n  but the README shows:\n    ERROR:",
      "README line 40: echo got\n  printed:\n    got\n  but the README shows:\n    wanted",
    ]);
  });

  it("kills a step that never ends and says which one", async () => {
    const steps: WalkthroughStep[] = [
      { line: 1, script: "echo ok", expect: ["ok"] },
      { line: 2, script: "tail -f /dev/null &\nwait" },
      { line: 3, script: "echo never" },
    ];
    const result = await run(steps, 500);
    expect(result.timedOut).toBe(true);
    expect(result.runs).toHaveLength(2);
    expect(walkthroughProblems(steps, result)).toEqual([
      "the walk-through did not finish: 2 of 3 steps started; the last one, README line 2, timed out",
    ]);
  });
});

describe("uncalledMethods", () => {
  it("lists the methods no step names (a longer name does not count for a shorter one)", () => {
    const service = { a: { path: "/pkg.S/Get" }, b: { path: "/pkg.S/GetAll" }, c: { path: "/pkg.S/Put" } };
    const steps: WalkthroughStep[] = [{ line: 1, script: "grpcurl … pkg.S/GetAll\ngrpcurl … pkg.S/Put" }];
    expect(uncalledMethods(steps, [service])).toEqual(["pkg.S/Get"]);
  });
});

describe("the README's grpcurl walk-through", () => {
  it("parses, and assigns ADDR for the harness to point at its server", () => {
    const steps = walkthroughSteps(readFileSync(join(ROOT, "README.md"), "utf8"), "Walk-through with grpcurl");
    expect(steps.length).toBeGreaterThan(10);
    expect(() => withOverrides(steps, { ADDR: "127.0.0.1:1" })).not.toThrow();
  });
});
