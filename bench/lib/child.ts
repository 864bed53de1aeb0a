/**
 * The benchmark's processes: the procworker server and the raw baselines each run in a child
 * process of their own (node + tsx, with --expose-gc), driven by the client process over
 * Node's IPC channel. A figure's server-side cost is then the server's alone, never the
 * client's, and CPU time can be read per process.
 *
 * Protocol: the parent sends `{ id, command, args }`; the child answers `{ id, value }` or
 * `{ id, error }`. Commands are async functions of the child (`serveCommands`).
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

interface Request {
  id: number;
  command: string;
  args: unknown;
}
interface Reply {
  id: number;
  value?: unknown;
  error?: string;
}

/** A child process and a way to call its commands. */
export interface Child {
  call<T>(command: string, args?: unknown): Promise<T>;
  /** Asks the child to exit and waits for it. */
  close(): Promise<void>;
  readonly pid: number;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Starts `bench/process/<name>.ts` in a child process. `BENCH_CHILD_ARGS` adds Node options
 * to it, e.g. `--cpu-prof --cpu-prof-dir=DIR` for profiles of every thread, wasm threads too. */
export function startChild(name: string, env: Record<string, string> = {}): Child {
  const child: ChildProcess = fork(join(here, "..", "process", `${name}.ts`), [], {
    execArgv: [
      "--import",
      "tsx",
      "--expose-gc",
      ...(process.env["BENCH_CHILD_ARGS"]?.split(" ").filter(Boolean) ?? []),
    ],
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let next = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on("message", (reply: Reply) => {
    const waiting = pending.get(reply.id);
    if (waiting === undefined) return;
    pending.delete(reply.id);
    if (reply.error !== undefined) waiting.reject(new Error(`${name}: ${reply.error}`));
    else waiting.resolve(reply.value);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => {
    for (const waiting of pending.values()) waiting.reject(new Error(`${name} exited`));
    pending.clear();
  });
  return {
    pid: child.pid ?? -1,
    call<T>(command: string, args?: unknown): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, command, args } satisfies Request);
      });
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null)
        child.send({ id: -1, command: "exit", args: undefined });
      await exited;
    },
  };
}

/** In a child: answers the parent's commands until it says `exit` (then `onExit` runs). */
export function serveCommands(commands: Record<string, (args: never) => unknown>, onExit: () => Promise<void>): void {
  process.on("message", (request: Request) => {
    if (request.command === "exit") {
      void onExit().finally(() => process.exit(0));
      return;
    }
    const command = commands[request.command];
    Promise.resolve()
      .then(() => {
        if (command === undefined) throw new Error(`unknown command ${request.command}`);
        return command(request.args as never);
      })
      .then(
        (value) => process.send?.({ id: request.id, value } satisfies Reply),
        (error: unknown) =>
          process.send?.({
            id: request.id,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          }),
      );
  });
}
