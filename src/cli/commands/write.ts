/**
 * The commands that change the server: spawn a process, schedule a message, stop a worker.
 */
import { readFile } from "node:fs/promises";
import { stringOption } from "../args.js";
import { MESSAGE_OPTIONS, messageOf } from "./message-options.js";
import { processOf, type ClientCommand } from "./command.js";

/** `spawn`: define a process from a spawn message (and a module file for wasm@1.0); prints its id. */
export const spawn: ClientCommand = {
  name: "spawn",
  args: [],
  summary: "define a process; prints its id",
  details:
    "The spawn message defines the process: the same message (and module) always gives the same id.\n\n" +
    "examples:\n" +
    "  procworker spawn --tag Execution-Device=counter@1.0 --tag Initial=10\n" +
    "  procworker spawn --tag Execution-Device=wasm@1.0 --module counter.wasm",
  options: {
    ...MESSAGE_OPTIONS,
    module: { type: "string", value: "FILE", doc: "a WebAssembly module to spawn with (wasm@1.0)" },
  },
  async run(ctx) {
    const file = stringOption(ctx.values, "module");
    const module = file === undefined ? Buffer.alloc(0) : await readModule(file);
    const response = await ctx.client.spawn({ process: messageOf(ctx.values), module }, ctx.call);
    ctx.out.emit(response, () => response.processId);
  },
};

async function readModule(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new Error(`cannot read --module ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** `schedule`: append one message to a process's schedule; prints its slot and message id. */
export const schedule: ClientCommand = {
  name: "schedule",
  args: ["PROCESS"],
  summary: "append a message to a process's schedule; prints its slot",
  details: "The message is durable once its slot is printed.\n\nexample:\n  procworker schedule $P --tag Amount=5",
  options: MESSAGE_OPTIONS,
  async run(ctx) {
    const response = await ctx.client.schedule(
      { processId: processOf(ctx), messages: [messageOf(ctx.values)] },
      ctx.call,
    );
    ctx.out.emit(response, () => response.assignments.map((a) => `slot ${a.slot}  message ${a.messageId}`));
  },
};

/** `stop`: stop the process's worker (snapshot first unless --skip-snapshot). */
export const stop: ClientCommand = {
  name: "stop",
  args: ["PROCESS"],
  summary: "stop a process's worker (after a snapshot)",
  details:
    "The slot in progress finishes, a snapshot is written (unless --skip-snapshot), the worker ends;\nthe next request starts a fresh worker from the store.",
  options: {
    "skip-snapshot": { type: "boolean", doc: "end the worker without writing a snapshot" },
  },
  async run(ctx) {
    const response = await ctx.client.stop(
      { processId: processOf(ctx), skipSnapshot: ctx.values["skip-snapshot"] === true },
      ctx.call,
    );
    const at = response.atSlot === undefined ? "no slot computed" : `at slot ${response.atSlot}`;
    ctx.out.emit(response, () => (response.stopped ? `stopped (${at})` : `no live worker (${at})`));
  },
};
