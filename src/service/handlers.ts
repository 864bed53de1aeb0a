/**
 * The ProcessWorkerService handlers: each RPC (docs/api.md) on the engine, nothing else. The
 * plumbing every call shares — deadlines, cancellation, metrics, status mapping, flow
 * control — is in calls.ts.
 */
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { invalidArgument } from "../core/errors.js";
import {
  AwaitResponse,
  ComputeResponse,
  ProcessWorkerServiceService,
  SubscribeResponse,
  type ProcessWorkerServiceServer,
} from "../generated/procworker/v1/process_worker_service.js";
import type { Engine } from "../worker/engine.js";
import { callKinds, type CallDeps } from "./calls.js";
import { encodeResultResponse } from "./result-bytes.js";
import { withTolerantDecoding } from "./decoding.js";
import {
  fromWireMessage,
  toWireGroupKind,
  toWireProcess,
  toWireResult,
  toWireScheduleEntry,
  toWireWorkerInfo,
} from "./convert.js";

/**
 * The service definition with two changes: Await, Compute and Subscribe responses may be
 * handed over already encoded (a Buffer, result-bytes.ts), so a result broadcast to many
 * streams is encoded once and no response goes through the generic protobuf writer; and
 * undecodable request bytes reach the handler (as INVALID_ARGUMENT), see decoding.ts.
 */
export const processWorkerServiceDefinition = withTolerantDecoding({
  ...ProcessWorkerServiceService,
  await: {
    ...ProcessWorkerServiceService.await,
    responseSerialize: (value: AwaitResponse | Buffer): Buffer =>
      Buffer.isBuffer(value) ? value : Buffer.from(AwaitResponse.encode(value).finish()),
  },
  compute: {
    ...ProcessWorkerServiceService.compute,
    responseSerialize: (value: ComputeResponse | Buffer): Buffer =>
      Buffer.isBuffer(value) ? value : Buffer.from(ComputeResponse.encode(value).finish()),
  },
  subscribe: {
    ...ProcessWorkerServiceService.subscribe,
    responseSerialize: (value: SubscribeResponse | Buffer): Buffer =>
      Buffer.isBuffer(value) ? value : Buffer.from(SubscribeResponse.encode(value).finish()),
  },
} as const);

export interface HandlerDeps extends CallDeps {
  engine: Engine;
}

/** The handlers, ready for `server.addService(processWorkerServiceDefinition, …)`. */
export function createHandlers({
  engine,
  ...deps
}: HandlerDeps): ProcessWorkerServiceServer & UntypedServiceImplementation {
  const { unary, slots, items } = callKinds(deps);
  return {
    spawn: unary("Spawn", async (request) => {
      if (request.process === undefined) throw invalidArgument("process (the spawn message) is required");
      const processId = await engine.spawn(fromWireMessage(request.process), request.module);
      return { processId };
    }),
    schedule: unary("Schedule", async (request) => {
      const entries = await engine.schedule(request.processId, request.messages.map(fromWireMessage));
      deps.metrics.scheduled(entries.length);
      return { assignments: entries.map((e) => ({ slot: e.slot, messageId: e.messageId })) };
    }),
    group: unary("Group", async (request) => {
      const group = await engine.group(request.processId, request.path, request.slot);
      return { group: group.name, kind: toWireGroupKind(group.kind) };
    }),
    compute: slots("Compute", (request, hasDeadline) =>
      engine.compute(request.processId, request.slot, hasDeadline, { encoded: true }),
    ),
    // The definition's serializer passes the pre-encoded AwaitResponse bytes through.
    await: unary(
      "Await",
      async (request, signal) =>
        encodeResultResponse(await engine.await(request.processId, request.slot, signal)) as unknown as AwaitResponse,
    ),
    subscribe: slots("Subscribe", (request) =>
      engine.subscribe(request.processId, request.fromSlot, { encoded: true }),
    ),
    stop: unary("Stop", async (request) => {
      const { stopped, atSlot } = await engine.stop(request.processId, request.skipSnapshot);
      return { stopped, ...(atSlot !== undefined ? { atSlot } : {}) };
    }),
    listWorkers: unary("ListWorkers", async () => ({ workers: engine.listWorkers().map(toWireWorkerInfo) })),
    getProcess: unary("GetProcess", async (request) => toWireProcess(await engine.getProcess(request.processId))),
    readSchedule: items(
      "ReadSchedule",
      (request) => engine.readSchedule(request.processId, request.fromSlot, request.toSlot),
      (entry) => ({ entry: toWireScheduleEntry(entry) }),
    ),
    dryRun: unary("DryRun", async (request, signal) => {
      if (request.message === undefined) throw invalidArgument("message (the message to evaluate) is required");
      return {
        result: toWireResult(await engine.dryRun(request.processId, fromWireMessage(request.message), signal())),
      };
    }),
  };
}
