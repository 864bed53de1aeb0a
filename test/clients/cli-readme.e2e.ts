/**
 * The README's CLI example (section "CLI"), run as written against a fresh server (only
 * ADDR is pointed at it): it builds the CLI, then each step must print what its `# →`
 * comment shows.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startServe, type ServeProcess } from "./server.js";
import { ROOT } from "./tools.js";
import { walkthroughProblems } from "./walkthrough-check.js";
import { walkthroughSteps, withOverrides } from "./walkthrough-parse.js";
import { runWalkthrough } from "./walkthrough-run.js";

let server: ServeProcess | undefined;
beforeAll(async () => {
  server = await startServe();
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

it("runs as written: every step succeeds and prints its # → output", async () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const steps = withOverrides(walkthroughSteps(readme, "CLI"), { ADDR: server!.address });
  const run = await runWalkthrough(steps, { cwd: ROOT, env: process.env, timeoutMs: 300_000 });
  expect(walkthroughProblems(steps, run).join("\n\n")).toBe("");
  expect(run.runs).toHaveLength(steps.length);
});
