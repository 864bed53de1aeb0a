/**
 * `compute`: compute a process up to a slot and stream the results. JSON mode prints every
 * result; on a terminal the failed slots and the last result are printed, and a progress
 * bar (slots done / slots to do, rate) runs on stderr whenever stderr is a terminal.
 */
import type { ComputeResponse } from "../../generated/procworker/v1/process_worker_service.js";
import type { SlotResult } from "../../generated/procworker/v1/types.js";
import { slotOption } from "../args.js";
import { ProgressBar } from "../progress.js";
import { resultLine } from "../render.js";
import { resultsOf } from "../../service/client.js";
import { processOf, RESULTS_PER_RESPONSE, type ClientCommand, type Context } from "./command.js";

/** `compute PROCESS [--slot N]`. */
export const compute: ClientCommand = {
  name: "compute",
  args: ["PROCESS"],
  summary: "compute a process up to a slot, streaming the results",
  details:
    "Streams every slot from the first one not yet computed up to the target (a target already\n" +
    "computed gives just its result). On a terminal: a progress bar on stderr (slots done / target,\n" +
    "rate), then the failed slots and the last result. With --json or piped: every result, one\n" +
    "JSON object per line.",
  options: {
    slot: { type: "string", value: "N", doc: "the slot to compute up to (default: the latest scheduled)" },
  },
  async run(ctx) {
    const processId = processOf(ctx);
    const slot = slotOption(ctx.values, "slot");
    const bar = ctx.stderr.isTTY ? await startBar(ctx, processId, slot) : undefined;
    const stream = ctx.client.compute(
      { processId, ...(slot !== undefined ? { slot } : {}), maxResultsPerResponse: RESULTS_PER_RESPONSE },
      ctx.call,
    );
    let last: SlotResult | undefined;
    let failed = 0;
    try {
      for await (const response of stream as AsyncIterable<ComputeResponse>) {
        for (const result of resultsOf(response)) {
          last = result;
          if (result.error !== undefined) failed++;
          if (ctx.out.json) ctx.out.emit(result, () => resultLine(result));
          else if (result.error !== undefined) ctx.out.line(resultLine(result));
          bar?.update();
        }
      }
    } finally {
      bar?.clear();
    }
    if (!ctx.out.json && last !== undefined && last.error === undefined) ctx.out.line(resultLine(last));
    if (bar) ctx.stderr.write(`computed ${bar.summary()}${failed > 0 ? `, ${failed} failed` : ""}\n`);
  },
};

/**
 * The bar counts the slots from the first one not yet computed to the target (the requested
 * slot, or the latest scheduled), as GetProcess reports them; a target already computed is
 * one result.
 */
async function startBar(ctx: Context, processId: string, slot: bigint | undefined): Promise<ProgressBar> {
  const p = await ctx.client.getProcess({ processId }, ctx.call);
  const target = slot ?? p.latestScheduledSlot;
  const first = p.latestComputedSlot === undefined ? 0n : p.latestComputedSlot + 1n;
  const bar = new ProgressBar(ctx.stderr, target >= first ? Number(target - first + 1n) : 1);
  // The bar shares the terminal with stdout only when stdout is a terminal too.
  if (ctx.out.terminal) ctx.out.beforeLine = () => bar.clear();
  bar.start();
  return bar;
}
