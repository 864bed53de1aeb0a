/**
 * Runs walk-through steps in one bash process, in order, as a person pastes them into one
 * terminal: variables set by a step (P=$(…)) are there for the next ones. For each step it
 * collects everything printed (stdout and stderr, as a terminal shows them) and how many
 * commands failed (bash's ERR trap; pipefail is on, so `P=$(grpcurl … | sed …)` fails when
 * grpcurl does). After each step it waits for the step's background jobs (`cmd &`), so
 * their output stays with their step.
 */
import { spawn } from "node:child_process";
import type { WalkthroughStep } from "./walkthrough-parse.js";

/** What one step did. */
export interface StepRun {
  step: WalkthroughStep;
  /** Everything the step's commands printed, stdout and stderr interleaved. */
  output: string;
  /** How many of its commands exited non-zero. */
  failures: number;
}

/** The steps that ran (all of them, unless the timeout cut the run: then `timedOut`). */
export interface WalkthroughRun {
  runs: StepRun[];
  timedOut: boolean;
}

const MARK = "\x1e"; // ASCII record separator: printed before each step's output

/** Runs the steps with `env` in `cwd`; the whole run is killed after `timeoutMs`. */
export async function runWalkthrough(
  steps: WalkthroughStep[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<WalkthroughRun> {
  const script = [
    "set -o pipefail",
    "exec 2>&1",
    "__walkthrough_step=-1",
    `trap 'echo "$__walkthrough_step" >&3' ERR`,
    ...steps.flatMap((step, i) => [`printf '\\036%d\\n' ${i}`, `__walkthrough_step=${i}`, step.script, "wait"]),
    `printf '\\036end\\n'`,
  ].join("\n");

  const child = spawn("bash", ["-c", script], {
    cwd: opts.cwd,
    env: opts.env,
    detached: true, // its own process group, so a timeout also ends background jobs
    stdio: ["ignore", "pipe", "inherit", "pipe"],
  });
  let output = "";
  let failed = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  (child.stdio[3] as NodeJS.ReadableStream).setEncoding("utf8").on("data", (chunk: string) => (failed += chunk));

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // the group ended meanwhile
    }
  }, opts.timeoutMs);
  await new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", () => resolve());
  });
  clearTimeout(timer);

  const failures = new Map<number, number>();
  for (const i of failed.split("\n").filter(Boolean).map(Number)) failures.set(i, (failures.get(i) ?? 0) + 1);
  // Segments after each mark: "<index>\n<output>"; the last one is "end\n" if bash got there.
  const segments = output.split(MARK).slice(1);
  const runs: StepRun[] = [];
  for (const segment of segments) {
    const newline = segment.indexOf("\n");
    const index = Number(segment.slice(0, newline));
    const step = steps[index];
    if (step) runs.push({ step, output: segment.slice(newline + 1), failures: failures.get(index) ?? 0 });
  }
  return { runs, timedOut: timedOut || !output.endsWith(`${MARK}end\n`) };
}
