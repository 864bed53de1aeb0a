/**
 * The client tools of `npm run test:clients`, where scripts/clients/install.sh puts them
 * (.cache/clients/), and a way to run them that keeps their exit code and output.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** grpcurl, protoc-gen-go and protoc-gen-go-grpc. */
export const BIN = join(ROOT, ".cache/clients/bin");
/** The Python of the venv that has examples/python/requirements.txt. */
export const VENV_PYTHON = join(ROOT, ".cache/clients/python/bin/python");

/** `path`, after checking that the installer put it there (a clear error if not). */
export function installed(path: string): string {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`npm run test:clients\`, which installs the client tools first`);
  }
  return path;
}

/** How a command ended. */
export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args` to its end (killed after `timeoutMs`); never rejects on a non-zero exit. */
export function runTool(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: opts.timeoutMs,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
