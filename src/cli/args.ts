/**
 * The client commands' command line, read by `node:util` parseArgs from one declarative
 * spec per command, so the parser and each command's `--help` can never disagree. Global
 * options (`--address`, `--json`, `--timeout-ms`, the access options, `--help`) are accepted
 * before and after the command name.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** One option: a flag (boolean) or an option taking a value (`value` names it in the help). */
export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  value?: string;
  doc: string;
}

/** A command's name, positional arguments (all required), options and help. */
export interface CommandSpec {
  name: string;
  args: string[];
  options: Record<string, OptionSpec>;
  /** What the command does, in a few lowercase words (the command list and `--help`). */
  summary: string;
  /** More for `--help`: how it behaves, examples. */
  details?: string;
}

/** The values parseArgs read: strings, booleans, and arrays for `multiple` options. */
export type Values = Record<string, string | boolean | string[] | undefined>;

/** A command line that does not fit the command: exit 2 with its usage. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** The server every client command talks to, unless --address or PROCWORKER_ADDRESS says otherwise. */
export const DEFAULT_ADDRESS = "127.0.0.1:50051";

/** Options every client command takes, anywhere on the line. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  address: {
    type: "string",
    value: "HOST:PORT",
    doc: `the server (env PROCWORKER_ADDRESS; default ${DEFAULT_ADDRESS})`,
  },
  json: { type: "boolean", doc: "one JSON object per line, even on a terminal (the default when piped)" },
  "timeout-ms": { type: "string", value: "MS", doc: "deadline of each call (subscribe has none)" },
  token: { type: "string", value: "TOKEN", doc: "bearer token (env PROCWORKER_TOKEN)" },
  tls: { type: "boolean", doc: "TLS, trusting the system's roots" },
  ca: { type: "string", value: "FILE", doc: "TLS, trusting this PEM CA" },
  cert: { type: "string", value: "FILE", doc: "client certificate (PEM) for mutual TLS, with --key" },
  key: { type: "string", value: "FILE", doc: "client private key (PEM) for mutual TLS" },
  help: { type: "boolean", short: "h", doc: "show the command's help" },
};

const toParseArgs = (options: Record<string, OptionSpec>): NonNullable<ParseArgsConfig["options"]> =>
  Object.fromEntries(
    Object.entries(options).map(([name, o]) => [
      name,
      { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) },
    ]),
  );

/**
 * Finds the command name: the first positional argument once the global options before it
 * (and their values) are set aside. Also reports whether `--help`/`-h` appears anywhere,
 * so help wins over any other mistake on the line.
 */
export function splitCommand(argv: string[]): { command?: string; rest: string[]; help: boolean } {
  const { tokens } = parseArgs({
    args: argv,
    options: toParseArgs(GLOBAL_OPTIONS),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const help = tokens.some((t) => t.kind === "option" && t.name === "help");
  const first = tokens.find((t) => t.kind === "positional" || t.kind === "option-terminator");
  if (first?.kind !== "positional") return { rest: argv, help };
  return { command: first.value, rest: argv.filter((_, i) => i !== first.index), help };
}

/**
 * Reads a command's arguments (global options included) strictly: an unknown option, a
 * missing value or a wrong number of positional arguments is a UsageError.
 */
export function parseCommandLine(spec: CommandSpec, argv: string[]): { values: Values; positionals: string[] } {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: toParseArgs({ ...GLOBAL_OPTIONS, ...spec.options }),
      strict: true,
      allowPositionals: true,
    }) as { values: Values; positionals: string[] };
  } catch (error) {
    throw new UsageError(conciseParseError(error), spec.name);
  }
  const { positionals } = parsed;
  if (positionals.length < spec.args.length)
    throw new UsageError(`missing ${spec.args.slice(positionals.length).join(" ")}`, spec.name);
  if (positionals.length > spec.args.length)
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[spec.args.length])}`, spec.name);
  return parsed;
}

/** parseArgs' messages, shortened to their first sentence ("unknown option --x"). */
function conciseParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown option ${unknown[1]}`;
  const missing = /^Option '(-[^' ]+)[^']*' argument (missing|is ambiguous)/.exec(message);
  if (missing) return `option ${missing[1]} needs a value`;
  return message.split("\n")[0] ?? message;
}

/** A slot number option (`--slot`, `--from`, `--to`) as a bigint; absent stays undefined. */
export function slotOption(values: Values, name: string): bigint | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  if (typeof text !== "string" || !/^[0-9]+$/.test(text))
    throw new UsageError(`--${name} takes a slot number, got ${JSON.stringify(text)}`);
  return BigInt(text);
}

/** A string option's value (undefined when absent). */
export const stringOption = (values: Values, name: string): string | undefined => {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
};

const flagText = (name: string, o: OptionSpec): string =>
  `${o.short ? `-${o.short}, ` : "    "}--${name}${o.value ? ` ${o.value}` : ""}`;
const flagsWidth = (options: Record<string, OptionSpec>): number =>
  Math.max(0, ...Object.entries(options).map(([name, o]) => flagText(name, o).length));

/** The option list of a help text, descriptions aligned at `width` (default: the widest flag). */
export function optionLines(options: Record<string, OptionSpec>, width = flagsWidth(options)): string[] {
  return Object.entries(options).map(
    ([name, o]) => `  ${flagText(name, o).padEnd(width)}  ${o.doc}${o.multiple ? " (repeatable)" : ""}`,
  );
}

/** A command's one-line synopsis: `procworker compute PROCESS [options]`. */
export const synopsisOf = (spec: CommandSpec): string => ["procworker", spec.name, ...spec.args, "[options]"].join(" ");

/** A command's `--help`: synopsis, summary, its options, then the global ones. */
export function usageOf(spec: CommandSpec): string {
  // One column for the command's and the global options' descriptions.
  const width = Math.max(flagsWidth(spec.options), flagsWidth(GLOBAL_OPTIONS));
  const own = Object.keys(spec.options).length > 0 ? ["", "options:", ...optionLines(spec.options, width)] : [];
  return [
    `usage: ${synopsisOf(spec)}`,
    "",
    `${spec.summary.charAt(0).toUpperCase()}${spec.summary.slice(1)}.`,
    ...(spec.details ? ["", spec.details] : []),
    ...own,
    "",
    "global options (before or after the command):",
    ...optionLines(GLOBAL_OPTIONS, width),
  ].join("\n");
}
