/**
 * Conversions between the wire types (ts-proto, src/generated) and the engine's domain
 * types. Slots stay bigint on both sides; bytes are shared, not copied.
 */
import type { Message } from "../core/message.js";
import type { SlotResult } from "../core/result.js";
import {
  GroupKind,
  type Message as WireMessage,
  type SlotResult as WireSlotResult,
  type WorkerInfo as WireWorkerInfo,
  type ScheduleEntry as WireScheduleEntry,
} from "../generated/procworker/v1/types.js";
import type { GetProcessResponse } from "../generated/procworker/v1/process_worker_service.js";
import type { GroupKind as DomainGroupKind } from "../worker/group.js";
import type { ProcessStatus, WorkerStatus } from "../worker/status.js";
import type { ScheduleEntry } from "../store/store.js";
import { encodeResultResponse } from "./result-bytes.js";

/** A wire message as a domain message (a missing one is the empty message). Tags become
 * own data properties (Object.fromEntries), so even a tag named `__proto__` survives. */
export function fromWireMessage(message: WireMessage | undefined): Message {
  return { tags: Object.fromEntries(message?.tags ?? []), data: message?.data ?? new Uint8Array() };
}

/** A domain message on the wire. */
export function toWireMessage(message: Message): WireMessage {
  return {
    tags: new Map(Object.entries(message.tags)),
    data: Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength),
  };
}

/** A slot result on the wire: exactly one of output and error is set. */
export function toWireResult(result: SlotResult): WireSlotResult {
  return {
    processId: result.processId,
    slot: result.slot,
    messageId: result.messageId,
    ...(result.output ? { output: toWireMessage(result.output) } : {}),
    ...(result.error
      ? {
          error: {
            phase: result.error.phase,
            attemptedSlot: result.error.attemptedSlot,
            message: result.error.message,
          },
        }
      : {}),
  };
}

/** The last results encoded, newest at `recentAt - 1` (a ring). */
const RECENT = 16;
const recentResults: (SlotResult | undefined)[] = new Array<SlotResult | undefined>(RECENT).fill(undefined);
const recentBytes: (Buffer | undefined)[] = new Array<Buffer | undefined>(RECENT).fill(undefined);
let recentAt = 0;

/**
 * The bytes of `{ result }` as AwaitResponse, ComputeResponse and SubscribeResponse all encode
 * it (each is one `SlotResult result = 1` field; result-bytes.ts). A result published to many
 * streams is delivered to them one after the other, so the last few encodings are kept and
 * shared: a slot broadcast to N subscribers is encoded once, not N times (a stream that
 * delivers it much later may encode it again).
 */
export function encodedResultResponse(result: SlotResult): Buffer {
  for (let i = 1; i <= RECENT; i++) {
    const at = (recentAt - i + RECENT) % RECENT;
    if (recentResults[at] === result) return recentBytes[at] as Buffer;
  }
  const bytes = encodeResultResponse(result);
  recentResults[recentAt] = result;
  recentBytes[recentAt] = bytes;
  recentAt = (recentAt + 1) % RECENT;
  return bytes;
}

/** A group kind on the wire. */
export function toWireGroupKind(kind: DomainGroupKind): GroupKind {
  return kind === "worker" ? GroupKind.GROUP_KIND_WORKER : GroupKind.GROUP_KIND_DEFAULT;
}

/** A live worker on the wire. */
export function toWireWorkerInfo(info: WorkerStatus): WireWorkerInfo {
  return {
    group: info.group,
    processId: info.processId,
    ...(info.atSlot !== undefined ? { atSlot: info.atSlot } : {}),
    mailbox: info.mailbox,
    waiters: info.waiters,
    subscribers: info.subscribers,
    idleMs: BigInt(Math.round(info.idleMs)),
    stateBytes: BigInt(Math.ceil(info.stateBytes)),
    state: info.state,
    node: info.node,
  };
}

/** A process as GetProcess returns it. */
export function toWireProcess(process: ProcessStatus): GetProcessResponse {
  return {
    processId: process.processId,
    process: toWireMessage(process.spawn),
    device: process.device,
    latestScheduledSlot: process.latestScheduledSlot,
    ...(process.latestComputedSlot !== undefined ? { latestComputedSlot: process.latestComputedSlot } : {}),
    ...(process.latestSnapshotSlot !== undefined ? { latestSnapshotSlot: process.latestSnapshotSlot } : {}),
    ...(process.worker !== undefined ? { worker: toWireWorkerInfo(process.worker) } : {}),
  };
}

/** A schedule entry on the wire (its timestamp at millisecond precision). */
export function toWireScheduleEntry(entry: ScheduleEntry): WireScheduleEntry {
  return {
    slot: entry.slot,
    messageId: entry.messageId,
    timestamp: new Date(entry.timestampMs),
    message: toWireMessage(entry.message),
  };
}
