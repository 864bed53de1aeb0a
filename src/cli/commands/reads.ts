/**
 * The commands that read without changing anything: a process (`get`), its schedule
 * (`log`), the live workers (`workers`) and the group of a request (`group`).
 */
import type { ReadScheduleResponse } from "../../generated/procworker/v1/process_worker_service.js";
import { GroupKind, groupKindToJSON } from "../../generated/procworker/v1/types.js";
import { slotOption, stringOption } from "../args.js";
import { entryLine, processTable, workersTable } from "../render.js";
import { processOf, type ClientCommand } from "./command.js";

/** `get PROCESS`: definition, latest scheduled/computed/snapshot slots, live worker. */
export const get: ClientCommand = {
  name: "get",
  args: ["PROCESS"],
  summary: "show a process: device, slots, worker, spawn tags",
  details: "The latest scheduled, computed and snapshot slots, the live worker (if any) and the spawn message.",
  options: {},
  async run(ctx) {
    const response = await ctx.client.getProcess({ processId: processOf(ctx) }, ctx.call);
    ctx.out.emit(response, () => processTable(response));
  },
};

/** `log PROCESS [--from N] [--to N]`: the scheduled messages, in slot order. */
export const log: ClientCommand = {
  name: "log",
  args: ["PROCESS"],
  summary: "print a process's schedule (its messages, in slot order)",
  details: "Each entry's slot, time and message; slot 0 is the spawn message.",
  options: {
    from: { type: "string", value: "N", doc: "the first slot (default: 0)" },
    to: { type: "string", value: "N", doc: "the last slot, inclusive (default: the latest scheduled)" },
  },
  async run(ctx) {
    const to = slotOption(ctx.values, "to");
    const request = {
      processId: processOf(ctx),
      fromSlot: slotOption(ctx.values, "from") ?? 0n,
      ...(to !== undefined ? { toSlot: to } : {}),
    };
    for await (const { entry } of ctx.client.readSchedule(request, ctx.call) as AsyncIterable<ReadScheduleResponse>)
      ctx.out.emit(entry, () => entryLine(entry));
  },
};

/** `workers`: the live workers, as a table on a terminal. */
export const workers: ClientCommand = {
  name: "workers",
  args: [],
  summary: "list the live workers",
  details: "Each worker's process, state, slot, mailbox, waiters, subscribers, idle time, state size and node.",
  options: {},
  async run(ctx) {
    const response = await ctx.client.listWorkers(ctx.call);
    ctx.out.emit(response, () => workersTable(response.workers));
  },
};

/** `group PROCESS [--path P] [--slot N]`: which group a request maps to. */
export const group: ClientCommand = {
  name: "group",
  args: ["PROCESS"],
  summary: "show which group a request maps to",
  details: "The process's worker group (compute requests) or a default group (anything else).",
  options: {
    path: { type: "string", value: "P", doc: "the request's path (default: compute)" },
    slot: { type: "string", value: "N", doc: "the request's slot (default: none)" },
  },
  async run(ctx) {
    const slot = slotOption(ctx.values, "slot");
    const request = {
      processId: processOf(ctx),
      path: stringOption(ctx.values, "path") ?? "compute",
      ...(slot !== undefined ? { slot } : {}),
    };
    const { group, kind } = await ctx.client.group(request, ctx.call);
    ctx.out.emit({ group, kind: groupKindToJSON(kind) }, () =>
      kind === GroupKind.GROUP_KIND_WORKER ? `${group}  (worker group)` : `${group}  (default group)`,
    );
  },
};
