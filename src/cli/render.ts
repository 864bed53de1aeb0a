/**
 * How results, workers, processes and schedule entries read on a terminal: one line per
 * result or entry, aligned tables for workers and a process. JSON mode never uses these,
 * so their wording may change; scripts read `--json`.
 */
import { isUtf8 } from "node:buffer";
import type { GetProcessResponse } from "../generated/procworker/v1/process_worker_service.js";
import type { Message, ScheduleEntry, SlotResult, WorkerInfo } from "../generated/procworker/v1/types.js";
import { table } from "./table.js";

const PLAIN = /^[^\s"\\\p{Cc}]+$/u;
const quoted = (text: string): string => (PLAIN.test(text) ? text : JSON.stringify(text));

/** Tags as `Name=Value` pairs; a value with spaces, quotes or control characters is JSON-quoted. */
export const tagsText = (tags: Map<string, string>): string =>
  [...tags].map(([name, value]) => `${quoted(name)}=${quoted(value)}`).join("  ");

/** Data as short readable text (`data "10"`), its size when binary or long, nothing when empty. */
export function dataText(data: Buffer): string {
  if (data.length === 0) return "";
  if (data.length <= 80 && isUtf8(data)) {
    const text = data.toString("utf8");
    if (!/\p{Cc}/u.test(text)) return `data ${JSON.stringify(text)}`;
  }
  return `data <${bytesText(BigInt(data.length))}>`;
}

/** A message's tags and data on one line (`(empty)` when it has neither). */
export const messageText = (message: Message | undefined): string =>
  [tagsText(message?.tags ?? new Map<string, string>()), dataText(message?.data ?? Buffer.alloc(0))]
    .filter((s) => s !== "")
    .join("  ") || "(empty)";

/** One slot's result: `slot 3: Total=10  data "10"`, or `slot 4: error (compute): …`. */
export function resultLine(result: SlotResult | undefined): string {
  if (result === undefined) return "(no result)";
  const { error } = result;
  if (error !== undefined) {
    const at = error.attemptedSlot !== result.slot ? ` at slot ${error.attemptedSlot}` : "";
    return `slot ${result.slot}: error (${error.phase}${at}): ${error.message}`;
  }
  return `slot ${result.slot}: ${messageText(result.output)}`;
}

/** One schedule entry: `slot 1  2025-01-02T03:04:05.678Z  Amount=5`. */
export const entryLine = (entry: ScheduleEntry | undefined): string =>
  entry === undefined
    ? "(no entry)"
    : `slot ${entry.slot}  ${entry.timestamp?.toISOString() ?? "-"}  ${messageText(entry.message)}`;

/** A byte count for people: `65 B`, `1.5 KiB`, `256.0 MiB`. */
export function bytesText(n: bigint): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A duration for people: `850ms`, `5.4s`, `3m07s`, `2h05m`. */
export function durationText(ms: bigint): string {
  const n = Number(ms);
  if (n < 1000) return `${n}ms`;
  if (n < 60_000) return `${(n / 1000).toFixed(1)}s`;
  const s = Math.floor(n / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

const slotText = (slot: bigint | undefined): string => (slot === undefined ? "-" : String(slot));

/** The live workers as an aligned table (a GROUP column only when a group is not its process). */
export function workersTable(workers: WorkerInfo[]): string[] {
  if (workers.length === 0) return ["no live workers"];
  const grouped = workers.some((w) => w.group !== w.processId);
  const columns = [
    { title: "PROCESS" },
    ...(grouped ? [{ title: "GROUP" }] : []),
    { title: "STATE" },
    { title: "SLOT", align: "right" as const },
    { title: "MAILBOX", align: "right" as const },
    { title: "WAITERS", align: "right" as const },
    { title: "SUBSCRIBERS", align: "right" as const },
    { title: "IDLE", align: "right" as const },
    { title: "MEMORY", align: "right" as const },
    { title: "NODE" },
  ];
  const rows = workers.map((w) => [
    w.processId,
    ...(grouped ? [w.group] : []),
    w.state,
    slotText(w.atSlot),
    String(w.mailbox),
    String(w.waiters),
    String(w.subscribers),
    durationText(w.idleMs),
    bytesText(w.stateBytes),
    w.node,
  ]);
  return table(columns, rows);
}

/** A process as an aligned two-column table: id, device, slots, worker, spawn message. */
export function processTable(p: GetProcessResponse): string[] {
  const w = p.worker;
  const worker =
    w === undefined
      ? "none"
      : `${w.state} at slot ${slotText(w.atSlot)} on ${w.node} (mailbox ${w.mailbox}, waiters ${w.waiters}, ` +
        `subscribers ${w.subscribers}, idle ${durationText(w.idleMs)}, ${bytesText(w.stateBytes)})`;
  const tags = [...(p.process?.tags ?? new Map<string, string>())];
  const rows = [
    ["process", p.processId],
    ["device", p.device],
    ["scheduled", String(p.latestScheduledSlot)],
    ["computed", slotText(p.latestComputedSlot)],
    ["snapshot", slotText(p.latestSnapshotSlot)],
    ["worker", worker],
    ...tags.map(([name, value], i) => [i === 0 ? "tags" : "", `${quoted(name)}=${quoted(value)}`]),
    ...(p.process?.data.length ? [["data", dataText(p.process.data).replace(/^data /, "")]] : []),
  ];
  return table([{ title: "" }, { title: "" }], rows);
}
