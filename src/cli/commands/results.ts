/**
 * The commands that read results: wait for one slot (`await`), evaluate a message without
 * keeping it (`dry-run`), and follow a process like `tail -f` (`subscribe`).
 */
import { status } from "@grpc/grpc-js";
import type { SubscribeResponse } from "../../generated/procworker/v1/process_worker_service.js";
import { slotOption } from "../args.js";
import { resultLine } from "../render.js";
import { MESSAGE_OPTIONS, messageOf } from "./message-options.js";
import { resultsOf } from "../../service/client.js";
import { processOf, RESULTS_PER_RESPONSE, type ClientCommand } from "./command.js";

/** `await PROCESS [--slot N]`: one slot's result, waiting for it to be scheduled and computed. */
export const await_: ClientCommand = {
  name: "await",
  args: ["PROCESS"],
  summary: "wait for one slot's result",
  details:
    "A slot not yet scheduled is waited for; a wait without --timeout-ms is capped by the server's\nmax_await_ms.",
  options: {
    slot: { type: "string", value: "N", doc: "the slot (default: whichever slot completes next)" },
  },
  async run(ctx) {
    const slot = slotOption(ctx.values, "slot");
    const { result } = await ctx.client.await(
      { processId: processOf(ctx), ...(slot !== undefined ? { slot } : {}) },
      ctx.call,
    );
    ctx.out.emit(result, () => resultLine(result));
  },
};

/** `dry-run PROCESS --tag …`: what a message would do next, without scheduling it. */
export const dryRun: ClientCommand = {
  name: "dry-run",
  args: ["PROCESS"],
  summary: "evaluate a message without scheduling it",
  details:
    "The message is evaluated against the process's latest state (the scheduled slots are computed\n" +
    "first); nothing is scheduled or kept. The result's slot is the slot it was evaluated after.\n\n" +
    "example:\n  procworker dry-run $P --tag Amount=5",
  options: MESSAGE_OPTIONS,
  async run(ctx) {
    const { result } = await ctx.client.dryRun({ processId: processOf(ctx), message: messageOf(ctx.values) }, ctx.call);
    ctx.out.emit(result, () => `dry run after ${resultLine(result)}`);
  },
};

/** `subscribe PROCESS [--from N]`: every result from a slot on, then each new one, until Ctrl-C. */
export const subscribe: ClientCommand = {
  name: "subscribe",
  args: ["PROCESS"],
  summary: "follow a process's results like tail -f",
  details:
    "Prints the stored results from --from on, then each new one as it completes, until Ctrl-C\n" +
    "(exit 0). New slots are computed while a subscriber is attached.",
  options: {
    from: { type: "string", value: "N", doc: "the first slot to print (default: 0, the spawn)" },
  },
  async run(ctx) {
    const fromSlot = slotOption(ctx.values, "from") ?? 0n;
    // No deadline: a subscription follows until it is interrupted.
    const stream = ctx.client.subscribe({
      processId: processOf(ctx),
      fromSlot,
      maxResultsPerResponse: RESULTS_PER_RESPONSE,
    });
    let interrupted = false;
    const interrupt = (): void => {
      interrupted = true;
      stream.cancel();
    };
    process.once("SIGINT", interrupt);
    process.once("SIGTERM", interrupt);
    try {
      for await (const response of stream as AsyncIterable<SubscribeResponse>) {
        for (const result of resultsOf(response)) ctx.out.emit(result, () => resultLine(result));
      }
    } catch (error) {
      if (!(interrupted && (error as { code?: unknown }).code === status.CANCELLED)) throw error;
    } finally {
      process.off("SIGINT", interrupt);
      process.off("SIGTERM", interrupt);
    }
  },
};
