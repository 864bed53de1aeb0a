#!/usr/bin/env node
/**
 * The `procworker` command. `procworker serve [options]` runs the server (options: see
 * `procworker help`, or README); the other commands are a small client for the same API.
 * SIGTERM and SIGINT shut the server down gracefully and exit 0; SIGHUP re-reads the bearer
 * tokens file (a bad file keeps the tokens in force and logs an error).
 */
import { readFileSync } from "node:fs";
import { OPTIONS, envOf, flagOf, parseConfig, type OptionName } from "../core/config.js";
import { ProcworkerError } from "../core/errors.js";
import { createLogger } from "../core/log.js";
import { runClientCommand, CLIENT_USAGE } from "../service/client-commands.js";
import { startServer } from "../service/server.js";

async function serve(argv: string[]): Promise<void> {
  const { config } = parseConfig(argv);
  const logger = createLogger(config.logLevel);
  logger.info({ event: "config", config }, "effective configuration");
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
}

function usage(): string {
  const rows = (Object.keys(OPTIONS) as OptionName[]).map((name) => {
    const spec = OPTIONS[name];
    return `  ${flagOf(name).padEnd(28)} ${envOf(name).padEnd(36)} default ${JSON.stringify(spec.default)}\n      ${spec.doc}`;
  });
  return [
    "usage: procworker serve [options]",
    "       procworker <client command> [--address host:port] …",
    "",
    "server options (flag, environment variable, default):",
    ...rows,
    "",
    CLIENT_USAGE,
  ].join("\n");
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(usage());
      return;
    case "version":
    case "--version":
      console.log(
        (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string })
          .version,
      );
      return;
    default:
      process.exitCode = await runClientCommand(command, rest);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ProcworkerError) console.error(`procworker: ${error.message}`);
  else console.error(error);
  process.exit(2);
});
