/**
 * The README's grpcurl walk-through, run as written (only ADDR is pointed at a fresh
 * server) with the pinned grpcurl: every step must succeed (or fail where its output shows
 * an error), print what its `# →` comment shows, and the walk-through must call every RPC
 * of ProcessWorkerService. New commands in the README are picked up as they are.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ProcessWorkerServiceService } from "../../src/generated/procworker/v1/process_worker_service.js";
import { startServe, type ServeProcess } from "./server.js";
import { BIN, installed, ROOT } from "./tools.js";
import { uncalledMethods, walkthroughProblems } from "./walkthrough-check.js";
import { walkthroughSteps, withOverrides } from "./walkthrough-parse.js";
import { runWalkthrough } from "./walkthrough-run.js";

const HEADING = "Walk-through with grpcurl";
const readme = readFileSync(join(ROOT, "README.md"), "utf8");

let server: ServeProcess | undefined;
beforeAll(async () => {
  installed(join(BIN, "grpcurl"));
  server = await startServe();
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

it("calls every RPC of ProcessWorkerService", () => {
  const steps = walkthroughSteps(readme, HEADING);
  expect(uncalledMethods(steps, [ProcessWorkerServiceService])).toEqual([]);
});

it("runs as written: every step succeeds or fails as shown and prints its # → output", async () => {
  const steps = withOverrides(walkthroughSteps(readme, HEADING), { ADDR: server!.address });
  const run = await runWalkthrough(steps, {
    cwd: ROOT,
    env: { ...process.env, PATH: `${BIN}:${process.env.PATH ?? ""}` },
    timeoutMs: 120_000,
  });
  expect(walkthroughProblems(steps, run).join("\n\n")).toBe("");
  expect(run.runs.map((r) => r.step.line)).toEqual(steps.map((s) => s.line));
});
