/**
 * The client commands: every RPC of the service from the shell. Each command's line is
 * parsed from its spec (args.ts), run against a client for `--address` (or
 * PROCWORKER_ADDRESS), and its outcome becomes an exit code: 0 done, 1 the call failed
 * (the status on stderr), 2 a usage error (with the command's usage on stderr).
 */
import { readFile } from "node:fs/promises";
import { ProcworkerClient, type ClientOptions } from "../service/client.js";
import { DEFAULT_ADDRESS, UsageError, parseCommandLine, stringOption, usageOf, type Values } from "./args.js";
import type { ClientCommand } from "./commands/command.js";
import { compute } from "./commands/compute.js";
import { get, group, log, workers } from "./commands/reads.js";
import { await_, dryRun, subscribe } from "./commands/results.js";
import { schedule, spawn, stop } from "./commands/write.js";
import { failureLine } from "./failure.js";
import { Output, type LineStream } from "./output.js";
import type { BarStream } from "./progress.js";

/** Every client command, in the order `procworker help` lists them. */
export const CLIENT_COMMANDS: readonly ClientCommand[] = [
  spawn,
  schedule,
  compute,
  await_,
  subscribe,
  dryRun,
  get,
  log,
  workers,
  group,
  stop,
];

/** The client command called `name`, if there is one. */
export const clientCommand = (name: string): ClientCommand | undefined => CLIENT_COMMANDS.find((c) => c.name === name);

/** The streams and environment a command runs with (the process's own, except in tests). */
export interface Io {
  stdout: LineStream;
  stderr: BarStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

/**
 * Runs one client command with its arguments (global options anywhere); returns the exit
 * code. `help` (a `--help` anywhere on the line) prints the usage whatever else is wrong.
 */
export async function runClientCommand(command: ClientCommand, argv: string[], io: Io, help = false): Promise<number> {
  if (help) {
    io.stdout.write(`${usageOf(command)}\n`);
    return 0;
  }
  let client: ProcworkerClient | undefined;
  try {
    const { values, positionals } = parseCommandLine(command, argv);
    const timeout = stringOption(values, "timeout-ms");
    if (timeout !== undefined && !/^[1-9][0-9]*$/.test(timeout))
      throw new UsageError(`--timeout-ms takes a positive whole number of ms, got ${JSON.stringify(timeout)}`);
    const address = stringOption(values, "address") ?? (io.env.PROCWORKER_ADDRESS || DEFAULT_ADDRESS);
    client = new ProcworkerClient(address, await clientAccess(values, io.env));
    await command.run({
      client,
      out: new Output(io.stdout, values.json === true),
      stderr: io.stderr,
      values,
      positionals,
      call: timeout !== undefined ? { timeoutMs: Number(timeout) } : {},
    });
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`procworker ${command.name}: ${error.message}\n\n${usageOf(command)}\n`);
      return 2;
    }
    io.stderr.write(`${failureLine(command.name, error)}\n`);
    return 1;
  } finally {
    client?.close();
  }
}

/** TLS and token options of the client: `--ca` (or `--tls` alone: the system's roots), `--cert`
 * and `--key` for mutual TLS, `--token` or PROCWORKER_TOKEN. */
async function clientAccess(values: Values, env: NodeJS.ProcessEnv): Promise<ClientOptions> {
  const read = async (option: string): Promise<Buffer | undefined> => {
    const path = stringOption(values, option);
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (error) {
      throw new UsageError(`--${option}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
  };
  const [ca, cert, key] = await Promise.all([read("ca"), read("cert"), read("key")]);
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("--cert and --key go together");
  const useTls = values.tls === true || ca !== undefined || cert !== undefined;
  const token = stringOption(values, "token") ?? (env.PROCWORKER_TOKEN || undefined);
  return {
    ...(useTls ? { tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } } : {}),
    ...(token !== undefined ? { token } : {}),
  };
}
