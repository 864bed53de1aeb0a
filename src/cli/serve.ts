/**
 * `procworker serve [options]`: runs the server until SIGTERM or SIGINT, which shut it down
 * gracefully and exit 0. Options come from src/core/config.ts (flag, environment variable,
 * default), the only place that names them. The server's modules load only here, so the
 * client commands start without them.
 */
import { OPTIONS, envOf, flagOf, loggableConfig, parseConfig, type OptionName } from "../core/config.js";
import { ProcworkerError } from "../core/errors.js";
import type { Io } from "./client-commands.js";

const SYNOPSIS = "usage: procworker serve [options]";

/** `procworker serve --help`: every option with its flag, variable, default and meaning. */
export function serveUsage(): string {
  const rows = (Object.keys(OPTIONS) as OptionName[]).map((name) => {
    const spec = OPTIONS[name];
    return `  ${flagOf(name).padEnd(28)} ${envOf(name).padEnd(36)} default ${JSON.stringify(spec.default)}\n      ${spec.doc}`;
  });
  return [
    SYNOPSIS,
    "",
    "Run the procworker server. Option snake_name is flag --snake-name and environment variable",
    "PROCWORKER_SNAKE_NAME; the flag wins. A boolean flag alone means true (--process-workers=false).",
    "",
    "options (flag, environment variable, default):",
    ...rows,
  ].join("\n");
}

/**
 * Parses the options and starts the server; resolves with an exit code once it listens
 * (0; the server keeps the process alive) or when the options are wrong (2).
 */
export async function serve(argv: string[], io: Io, help: boolean): Promise<number> {
  if (help) {
    io.stdout.write(`${serveUsage()}\n`);
    return 0;
  }
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig(argv, io.env);
    if (parsed.rest.length > 0)
      throw new ProcworkerError("invalid_argument", `unexpected argument ${JSON.stringify(parsed.rest[0])}`);
  } catch (error) {
    if (!(error instanceof ProcworkerError)) throw error;
    io.stderr.write(`procworker serve: ${error.message}\n${SYNOPSIS}  (procworker serve --help lists the options)\n`);
    return 2;
  }
  const { config } = parsed;
  const [{ createLogger }, { startServer }] = await Promise.all([
    import("../core/log.js"),
    import("../service/server.js"),
  ]);
  const logger = createLogger(config.logLevel);
  logger.info({ event: "config", config: loggableConfig(config) }, "effective configuration");
  const server = await startServer({ config, logger, processMetrics: true });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: "signal", signal }, "signal received");
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ event: "shutdown_failed", err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGHUP", () => {
    logger.info({ event: "signal", signal: "SIGHUP" }, "signal received: reloading the tokens file");
    void server.reloadAccess();
  });
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  return 0;
}
