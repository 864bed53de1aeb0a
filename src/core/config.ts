/**
 * The server's options: the one place that names them, gives their defaults and parses
 * them. One rule for all: option `snake_name` is flag `--snake-name` and environment
 * variable `PROCWORKER_SNAKE_NAME`; the flag wins over the variable, which wins over the
 * default. HyperBEAM's names are kept (`process_workers`, `process_worker_max_idle`).
 */
import { availableParallelism } from "node:os";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ProcworkerError } from "./errors.js";

type Kind = "string" | "int" | "bool" | "level";

interface OptionSpec {
  kind: Kind;
  default: string | number | boolean;
  min?: number;
  max?: number;
  doc: string;
}

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Every option, its default and what it means. README's option table is written from this. */
export const OPTIONS = {
  host: { kind: "string", default: "127.0.0.1", doc: "address to listen on" },
  port: { kind: "int", default: 50051, min: 0, max: 65535, doc: "gRPC port (0: any free port)" },
  data_dir: { kind: "string", default: "./data", doc: "directory of the LMDB store" },
  database_url: {
    kind: "string",
    default: "",
    doc: "PostgreSQL URL (postgres://user:password@host:port/database) to keep everything in instead of LMDB; empty: LMDB in data_dir",
  },
  process_workers: {
    kind: "bool",
    default: true,
    doc: "keep one long-lived worker per process (off: every compute restores and replays; identical requests in flight are computed once)",
  },
  process_worker_max_idle: {
    kind: "int",
    default: 300_000,
    min: 1,
    doc: "ms a worker may stay idle before it snapshots and exits",
  },
  snapshot_interval: { kind: "int", default: 64, min: 1, doc: "slots between periodic snapshots" },
  snapshot_keep: { kind: "int", default: 2, min: 1, doc: "snapshots kept per process (older ones are deleted)" },
  max_worker_bytes: {
    kind: "int",
    default: 1024 * 1024 * 1024,
    min: 0,
    doc: "cap on the state bytes of all live workers; past it the least recently used idle worker snapshots and exits",
  },
  max_await_ms: {
    kind: "int",
    default: 60_000,
    min: 1,
    doc: "longest wait of an Await (or a Compute) that has no deadline of its own",
  },
  slot_time_limit_ms: { kind: "int", default: 5_000, min: 1, doc: "wall time one slot may take before it fails" },
  wasm_max_memory_mib: {
    kind: "int",
    default: 256,
    min: 1,
    max: 65536,
    doc: "memory cap per WebAssembly instance (MiB)",
  },
  wasm_threads: { kind: "int", default: 0, min: 0, max: 256, doc: "WebAssembly worker threads (0: one per core)" },
  max_message_bytes: {
    kind: "int",
    default: 4 * 1024 * 1024,
    min: 1024,
    doc: "largest gRPC message accepted or sent, and the largest single scheduled message",
  },
  subscriber_buffer: {
    kind: "int",
    default: 1024,
    min: 64,
    doc: "live results buffered per Compute/Subscribe stream (at least 64, a worker's batch); a stream whose client takes nothing while twice this many complete (and for subscriber_stall_ms) ends with RESOURCE_EXHAUSTED",
  },
  subscriber_stall_ms: {
    kind: "int",
    default: 2_000,
    min: 0,
    doc: "how long a stream's client may take nothing, once twice subscriber_buffer results completed meanwhile, before its stream ends with RESOURCE_EXHAUSTED",
  },
  stream_window_bytes: {
    kind: "int",
    default: 32 * 1024 * 1024,
    min: 0,
    doc: "bytes of recently computed results kept in memory for Compute/Subscribe streams that fell behind their worker, so they catch up without reading the store back (node-wide, oldest out first; estimated; 0: off)",
  },
  shutdown_timeout_ms: {
    kind: "int",
    default: 10_000,
    min: 1,
    doc: "longest graceful shutdown before open calls are cut",
  },
  log_level: { kind: "level", default: "info", doc: `log level: ${LEVELS.join(", ")}` },
  metrics_port: { kind: "int", default: 0, min: 0, max: 65535, doc: "Prometheus metrics HTTP port on host (0: off)" },
  node_address: {
    kind: "string",
    default: "",
    doc: "the address clients reach this node at, as ListWorkers and GetProcess report it (empty: host:port)",
  },
  definition_cache_bytes: {
    kind: "int",
    default: 64 * 1024 * 1024,
    min: 1,
    doc: "bytes of process definitions (spawn messages) kept in memory, least recently used out first",
  },
  module_cache_bytes: {
    kind: "int",
    default: 256 * 1024 * 1024,
    min: 1,
    doc: "bytes of WebAssembly modules kept in memory, least recently used out first: their bytes, and apart from them their compiled form (estimated at 32 KiB + 4× the bytes each)",
  },
  max_schedule_messages: {
    kind: "int",
    default: 1000,
    min: 1,
    doc: "most messages one Schedule may carry (more: INVALID_ARGUMENT)",
  },
  max_request_tags: {
    kind: "int",
    default: 10_000,
    min: 1,
    doc: "most tags one request may carry over all its messages (more: INVALID_ARGUMENT); ids hash sorted tags on the main thread",
  },
  tls_cert: {
    kind: "string",
    default: "",
    doc: "PEM certificate chain file: serve TLS (with tls_key; empty: plaintext)",
  },
  tls_key: { kind: "string", default: "", doc: "PEM private key file of tls_cert" },
  tls_client_ca: {
    kind: "string",
    default: "",
    doc: "PEM CA file: mutual TLS, every client must present a certificate it signed (needs tls_cert)",
  },
  auth_tokens_file: {
    kind: "string",
    default: "",
    doc: "bearer tokens, one `ROLE TOKEN` a line (roles: read, write); re-read on SIGHUP (empty: no tokens needed)",
  },
} satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** The parsed configuration, in camelCase. */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string;
  processWorkers: boolean;
  processWorkerMaxIdle: number;
  snapshotInterval: number;
  snapshotKeep: number;
  maxWorkerBytes: number;
  maxAwaitMs: number;
  slotTimeLimitMs: number;
  wasmMaxMemoryMib: number;
  wasmThreads: number;
  maxMessageBytes: number;
  subscriberBuffer: number;
  subscriberStallMs: number;
  streamWindowBytes: number;
  shutdownTimeoutMs: number;
  logLevel: (typeof LEVELS)[number];
  metricsPort: number;
  nodeAddress: string;
  definitionCacheBytes: number;
  moduleCacheBytes: number;
  maxScheduleMessages: number;
  maxRequestTags: number;
  tlsCert: string;
  tlsKey: string;
  tlsClientCa: string;
  authTokensFile: string;
}

/** The configuration as it may be logged: the password of `databaseUrl` replaced by `***`. */
export function loggableConfig(config: Config): Config {
  if (config.databaseUrl === "") return config;
  let databaseUrl = "(not a URL)";
  try {
    const url = new URL(config.databaseUrl);
    if (url.password !== "") url.password = "***";
    databaseUrl = url.toString();
  } catch {
    // an unparsable URL is not logged at all: it may hold a password
  }
  return { ...config, databaseUrl };
}

/** The flag of an option: `process_workers` → `--process-workers`. */
export const flagOf = (name: OptionName): string => `--${name.replaceAll("_", "-")}`;
/** The environment variable of an option: `process_workers` → `PROCWORKER_PROCESS_WORKERS`. */
export const envOf = (name: OptionName): string => `PROCWORKER_${name.toUpperCase()}`;
const camelOf = (name: string): string => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The defaults, overridden by `overrides` (for tests and embedding). */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  const config: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(OPTIONS)) config[camelOf(name)] = spec.default;
  const out = { ...(config as unknown as Config), ...overrides };
  if (out.wasmThreads === 0) out.wasmThreads = availableParallelism();
  return out;
}

/** The options as `node:util` parseArgs declares them: booleans as flags, the rest taking a value. */
const PARSE_ARGS_OPTIONS: NonNullable<ParseArgsConfig["options"]> = Object.fromEntries(
  (Object.keys(OPTIONS) as OptionName[]).map((name) => [
    flagOf(name).slice(2),
    { type: (OPTIONS[name] as OptionSpec).kind === "bool" ? "boolean" : "string" },
  ]),
);
const BOOL_TEXT = /^(true|false|1|0|yes|no|on|off)$/i;
const nameOfFlag = (flag: string): string => flag.replaceAll("-", "_");

/**
 * Parses flags (`--name value` or `--name=value`; a bare boolean flag means true, and may be
 * followed by a boolean word: `--process-workers false`) over environment variables over
 * defaults, with `node:util` parseArgs reading the command line. Unknown flags and bad values
 * throw an `invalid_argument` error naming the option. Returns the config and the non-flag
 * arguments.
 */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): { config: Config; rest: string[] } {
  const raw = new Map<OptionName, string>();
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const value = env[envOf(name)];
    if (value !== undefined && value !== "") raw.set(name, value);
  }
  // Non-strict parsing yields every token, so unknown flags are refused here with their name.
  const { tokens } = parseArgs({
    args: argv,
    options: PARSE_ARGS_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const rest: string[] = [];
  let bareBool: OptionName | undefined; // a boolean flag given without a value, just before
  for (const token of tokens) {
    if (token.kind === "positional") {
      if (bareBool !== undefined && BOOL_TEXT.test(token.value)) raw.set(bareBool, token.value);
      else rest.push(token.value);
      bareBool = undefined;
      continue;
    }
    bareBool = undefined;
    if (token.kind === "option-terminator") continue;
    const name = nameOfFlag(token.name) as OptionName;
    if (!token.rawName.startsWith("--") || !Object.hasOwn(OPTIONS, name))
      throw new ProcworkerError("invalid_argument", `unknown option ${token.rawName}`);
    const spec: OptionSpec = OPTIONS[name];
    if (token.value !== undefined && (token.inlineValue || !token.value.startsWith("--"))) {
      raw.set(name, token.value);
    } else if (spec.kind === "bool") {
      raw.set(name, "true");
      bareBool = name;
    } else {
      throw new ProcworkerError("invalid_argument", `option ${token.rawName} needs a value`);
    }
  }
  const overrides: Record<string, unknown> = {};
  for (const [name, text] of raw) overrides[camelOf(name)] = parseValue(name, OPTIONS[name], text);
  return { config: defaultConfig(overrides), rest };
}

function parseValue(name: OptionName, spec: OptionSpec, text: string): string | number | boolean {
  const bad = (why: string): never => {
    throw new ProcworkerError("invalid_argument", `option ${name} (${flagOf(name)} / ${envOf(name)}): ${why}`);
  };
  switch (spec.kind) {
    case "string":
      return text;
    case "bool":
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      return bad(`expected true or false, got ${JSON.stringify(text)}`);
    case "level":
      return (LEVELS as readonly string[]).includes(text) ? text : bad(`expected one of ${LEVELS.join(", ")}`);
    case "int": {
      if (!/^[0-9]+$/.test(text)) return bad(`expected a whole number, got ${JSON.stringify(text)}`);
      const n = Number(text);
      if (!Number.isSafeInteger(n)) return bad("too large");
      if (spec.min !== undefined && n < spec.min) return bad(`must be at least ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) return bad(`must be at most ${spec.max}`);
      return n;
    }
  }
}
