/**
 * What a client command is: its spec (name, arguments, options, help) and what it does
 * with a connected client. The command line is parsed before `run`, so `run` only meets
 * values that fit the spec.
 */
import type { CallOpts, ProcworkerClient } from "../../service/client.js";
import type { CommandSpec, Values } from "../args.js";
import type { Output } from "../output.js";
import type { BarStream } from "../progress.js";

/** What a command runs with. */
export interface Context {
  client: ProcworkerClient;
  out: Output;
  /** stderr, for the progress bar and closing remarks (only when it is a terminal). */
  stderr: BarStream & { isTTY?: boolean };
  values: Values;
  positionals: string[];
  /** Per-call options (the deadline from `--timeout-ms`). */
  call: CallOpts;
}

/** A client command: its spec and its action. Failures throw (a gRPC ServiceError or an Error). */
export interface ClientCommand extends CommandSpec {
  run(ctx: Context): Promise<void>;
}

/** The command's PROCESS argument (the spec makes it the first positional). */
export const processOf = (ctx: Context): string => ctx.positionals[0] ?? "";

/** The results per response the CLI asks of its Compute and Subscribe streams: a catch-up
 * costs the server several times less per slot than one result per response, and a live
 * result is still sent as soon as it completes. */
export const RESULTS_PER_RESPONSE = 256;
