/**
 * The `procworker` command three ways: in this process with captured streams (`runHere`,
 * fast, a terminal or not), as a child process from the sources (node --import tsx) the way
 * a person runs it (`runCli`: real argv, environment, exit code), and as a child in a
 * pseudo-terminal through util-linux `script` (`runInPty`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { runCommandLine } from "../../src/cli/run.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const CLI = [process.execPath, "--import", "tsx", "src/cli/main.ts"];

/** What a finished command left: its exit code and its output. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the command line in this process with captured stdout and stderr, which claim to be
 * terminals (stderr `columns` wide) when `terminal` says so; `env` is the whole environment.
 */
export async function runHere(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; terminal?: boolean | "stderr"; columns?: number } = {},
): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await runCommandLine(args, {
    stdout: { write: (text: string) => ((stdout += text), true), isTTY: opts.terminal === true },
    stderr: {
      write: (text: string) => ((stderr += text), true),
      isTTY: opts.terminal !== undefined && opts.terminal !== false,
      columns: opts.columns ?? 80,
    },
    env: opts.env ?? {},
  });
  return { code, stdout, stderr };
}

/** A running command: its output so far, a way to wait for some of it, and its end. */
export interface CliChild {
  child: ChildProcess;
  /** Resolves once `pattern` matches stdout (rejects if the command ends first). */
  waitFor(pattern: RegExp): Promise<void>;
  done: Promise<CliRun>;
}

/** The environment for a command: the test's, without PROCWORKER_ADDRESS unless given. */
function envWith(env: Record<string, string>): NodeJS.ProcessEnv {
  const out = { ...process.env, ...env };
  if (!("PROCWORKER_ADDRESS" in env)) delete out.PROCWORKER_ADDRESS;
  return out;
}

function track(child: ChildProcess): CliChild {
  let stdout = "";
  let stderr = "";
  const watchers: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout!.setEncoding("utf8").on("data", (text: string) => {
    stdout += text;
    for (const w of watchers.filter((w) => w.pattern.test(stdout))) {
      watchers.splice(watchers.indexOf(w), 1);
      w.resolve();
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const done = once(child, "close").then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return {
    child,
    done,
    waitFor: (pattern) =>
      pattern.test(stdout)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            watchers.push({ pattern, resolve });
            void done.then(() => reject(new Error(`ended before ${pattern} appeared:\n${stdout}\n${stderr}`)));
          }),
  };
}

/** Starts `procworker ...args` with pipes for stdin, stdout and stderr. */
export function startCli(args: string[], env: Record<string, string> = {}): CliChild {
  const [node, ...rest] = CLI;
  return track(spawn(node!, [...rest, ...args], { cwd: ROOT, env: envWith(env), stdio: ["ignore", "pipe", "pipe"] }));
}

/** Runs `procworker ...args` to its end. */
export const runCli = (args: string[], env: Record<string, string> = {}): Promise<CliRun> => startCli(args, env).done;

/** The JSON objects of a command's stdout, one per line. */
export const jsonLines = (stdout: string): unknown[] =>
  stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as unknown);

const shellQuote = (arg: string): string => `'${arg.replaceAll("'", `'\\''`)}'`;

/**
 * Starts `procworker ...args` (then `shellTail`, e.g. `| cat`) in a pseudo-terminal:
 * `script -qfec CMD /dev/null` gives the command a pty for stdin, stdout and stderr and
 * copies the terminal's output to its own stdout (both streams, `\r\n` line ends, which
 * this turns into `\n`); `-e` makes script exit with the command's code. Writing `\x03` to
 * stdin is a Ctrl-C: the terminal sends SIGINT to the command.
 */
export function startInPty(args: string[], env: Record<string, string> = {}, shellTail = ""): CliChild {
  // Without a pipeline the shell is replaced by the command (exec): a Ctrl-C then reaches
  // only the command, and its exit code is script's. Without exec, a shell that dies of the
  // SIGINT (dash, /bin/sh on Debian) would report 130 whatever the command did.
  const words = [...CLI, ...args].map(shellQuote).join(" ");
  const command = shellTail === "" ? `exec ${words}` : `${words} ${shellTail}`;
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    cwd: ROOT,
    // script runs the command with $SHELL: the same shell here as on any machine.
    env: { ...envWith(env), SHELL: "/bin/sh" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const tracked = track(child);
  return {
    ...tracked,
    done: tracked.done.then((run) => ({ ...run, stdout: run.stdout.replaceAll("\r\n", "\n") })),
  };
}

/** Runs `procworker ...args` in a pseudo-terminal to its end (see startInPty). */
export function runInPty(args: string[], env: Record<string, string> = {}, shellTail = ""): Promise<CliRun> {
  const running = startInPty(args, env, shellTail);
  running.child.stdin!.end();
  return running.done;
}
