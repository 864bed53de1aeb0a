/**
 * A procworker server in a child process (its own process group, like a terminal job),
 * for tests of signals and restarts. It resolves once the server logs that it listens.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

export interface ChildServer {
  child: ChildProcess;
  port: number;
  stdout: string[];
  stderr: string[];
  /** Sends `signal` to the whole process group (as Ctrl-C does) and resolves with the exit code. */
  signalGroup: (signal: NodeJS.Signals) => Promise<number | null>;
}

const ROOT = new URL("../../", import.meta.url).pathname;

/** Starts `command args` in ROOT with the given environment additions. */
export async function startChildServer(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<ChildServer> {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, PROCWORKER_PORT: "0", PROCWORKER_WASM_THREADS: "1", ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => stderr.push(line));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      stdout.push(line);
      try {
        const entry = JSON.parse(line) as { event?: string; port?: number };
        if (entry.event === "listening" && entry.port) resolve(entry.port);
      } catch {
        // npm's own lines are not JSON
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${stderr.join("\n")}`)));
  });
  return {
    child,
    port,
    stdout,
    stderr,
    async signalGroup(signal) {
      process.kill(-(child.pid as number), signal);
      return exited;
    },
  };
}
