#!/usr/bin/env node
/**
 * The `procworker` executable: the command line (run.ts) with this process's arguments,
 * streams and environment. `procworker help` lists the commands.
 */
import { runCommandLine } from "./run.js";

// Piped into `head` and the like: a closed stdout ends the command quietly.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

runCommandLine(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
