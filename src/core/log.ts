/**
 * Structured logging (pino, JSON lines). One logger is made at start-up and handed down;
 * tests pass `silentLogger()`.
 */
import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/** A JSON logger at `level`, writing to stdout (or `destination`, e.g. a file descriptor 2). */
export function createLogger(level: LevelWithSilent = "info", destination?: number): Logger {
  return destination === undefined
    ? pino({ level, base: { service: "procworker" } })
    : pino({ level, base: { service: "procworker" } }, pino.destination({ fd: destination, sync: true }));
}

/** A logger that drops everything. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
