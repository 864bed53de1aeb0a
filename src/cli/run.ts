/**
 * The `procworker` command line: finds the command (global options may come first),
 * answers `help`, `version` and `--help`, starts `serve`, or runs a client command.
 * Resolves with the exit code: 0 done, 1 a call failed, 2 a usage error.
 */
import { readFileSync } from "node:fs";
import { GLOBAL_OPTIONS, optionLines, splitCommand, usageOf } from "./args.js";
import { CLIENT_COMMANDS, clientCommand, runClientCommand, type Io } from "./client-commands.js";
import { serve, serveUsage } from "./serve.js";

/** `procworker help`: the commands with their summaries, the global options, the output modes. */
function topUsage(): string {
  const names = ["serve", ...CLIENT_COMMANDS.map((c) => c.name)];
  const width = Math.max(...names.map((n) => n.length));
  return [
    "usage: procworker COMMAND [ARGS] [options]",
    "",
    "server:",
    `  ${"serve".padEnd(width)}  run the server (procworker serve --help lists its options)`,
    "",
    "client commands:",
    ...CLIENT_COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "global options (client commands; before or after the command):",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Output: text and tables on a terminal; one JSON object per line with --json or when piped.",
    "procworker COMMAND --help (or procworker help COMMAND) shows a command's arguments and options.",
  ].join("\n");
}

const version = (): string =>
  (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** Runs the command line; resolves with the exit code (serve: 0 once listening). */
export async function runCommandLine(argv: string[], io: Io): Promise<number> {
  if (argv[0] === "--version") return runCommandLine(["version"], io);
  const { command, rest, help } = splitCommand(argv);
  switch (command) {
    case undefined:
      if (help) {
        io.stdout.write(`${topUsage()}\n`);
        return 0;
      }
      io.stderr.write(`procworker: a command is required\n\n${topUsage()}\n`);
      return 2;
    case "help": {
      const name = rest.find((a) => !a.startsWith("-"));
      const found = name === undefined ? undefined : clientCommand(name);
      if (name === "serve") io.stdout.write(`${serveUsage()}\n`);
      else if (found) io.stdout.write(`${usageOf(found)}\n`);
      else if (name === undefined) io.stdout.write(`${topUsage()}\n`);
      else {
        io.stderr.write(`procworker: unknown command ${JSON.stringify(name)}\n\n${topUsage()}\n`);
        return 2;
      }
      return 0;
    }
    case "version":
      io.stdout.write(`${version()}\n`);
      return 0;
    case "serve":
      return serve(rest, io, help);
    default: {
      const found = clientCommand(command);
      if (found) return runClientCommand(found, rest, io, help);
      io.stderr.write(`procworker: unknown command ${JSON.stringify(command)}\n\n${topUsage()}\n`);
      return 2;
    }
  }
}
