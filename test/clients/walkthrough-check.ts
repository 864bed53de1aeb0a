/**
 * Judges a walk-through run: every step ran; a step succeeded (no command exited non-zero)
 * unless its expected output shows a grpcurl error (a line `ERROR:`), and then it failed;
 * and what it printed matches its expected output. Returns one readable problem per step
 * that is wrong, with the README line to look at.
 */
import { matchesExpected, outputItems } from "./walkthrough-match.js";
import type { WalkthroughStep } from "./walkthrough-parse.js";
import type { WalkthroughRun } from "./walkthrough-run.js";

/** The problems of `run` (the run of `steps`), empty when the walk-through works as written. */
export function walkthroughProblems(steps: WalkthroughStep[], run: WalkthroughRun): string[] {
  const problems: string[] = [];
  for (const { step, output, failures } of run.runs) {
    const where = `README line ${step.line}: ${step.script.split("\n")[0]}`;
    const expectsError = step.expect?.some((line) => line.startsWith("ERROR:")) ?? false;
    const items = outputItems(output);
    const printed = items.length > 0 ? items.map((item) => `    ${item.printed}`).join("\n") : "    (nothing)";
    if (expectsError && failures === 0)
      problems.push(`${where}\n  should fail (its output shows ERROR:) but succeeded`);
    if (!expectsError && failures > 0)
      problems.push(`${where}\n  ${failures} command(s) failed; it printed:\n${printed}`);
    if (step.expect && !matchesExpected(items, step.expect)) {
      const expected = step.expect.map((line) => `    ${line}`).join("\n");
      problems.push(`${where}\n  printed:\n${printed}\n  but the README shows:\n${expected}`);
    }
  }
  if (run.runs.length < steps.length || run.timedOut) {
    const stuck = run.runs.at(-1)?.step ?? steps[0];
    problems.push(
      `the walk-through did not finish: ${run.runs.length} of ${steps.length} steps started` +
        (stuck ? `; the last one, README line ${stuck.line}, ${run.timedOut ? "timed out" : "ended bash"}` : ""),
    );
  }
  return problems;
}

/**
 * The methods (`package.Service/Method`) of the given grpc-js service definitions that no
 * step names, so an RPC added to the API without a walk-through example is noticed.
 */
export function uncalledMethods(steps: WalkthroughStep[], services: Array<Record<string, { path: string }>>): string[] {
  const text = steps.map((step) => step.script).join("\n");
  return services
    .flatMap((service) => Object.values(service).map((method) => method.path.replace(/^\//, "")))
    .filter((method) => !new RegExp(`${method.replace(/\./g, "\\.")}(?![A-Za-z0-9_])`).test(text));
}
