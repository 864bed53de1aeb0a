/**
 * The ProcessWorkerService handlers: each RPC of DESIGN §3 on the engine. Deadlines and
 * cancellation reach the engine as an AbortSignal; every error leaves through
 * `toServiceError`; streams honour HTTP/2 flow control (they wait for `drain` before taking
 * the next result, so a slow client never makes the server buffer without bound).
 */
import {
  status,
  type ServiceError,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { invalidArgument } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import {
  ComputeResponse,
  ProcessWorkerServiceService,
  SubscribeResponse,
  type ComputeRequest,
  type ProcessWorkerServiceServer,
  type SubscribeRequest,
} from "../generated/procworker/v1/process_worker_service.js";
import type { Engine } from "../worker/engine.js";
import type { SlotStream } from "../worker/result-stream.js";
import { callSignal, type CancellableCall } from "./call-signal.js";
import { encodedResultResponse, fromWireMessage, toWireGroupKind, toWireResult, toWireWorkerInfo } from "./convert.js";
import type { InFlight } from "./in-flight.js";
import type { Metrics } from "./metrics.js";
import { toServiceError } from "./status.js";

/**
 * The service definition with one change: Compute and Subscribe responses may be handed
 * over already encoded (a Buffer), so a result broadcast to many streams is encoded once.
 */
export const processWorkerServiceDefinition = {
  ...ProcessWorkerServiceService,
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
} as const;

export interface HandlerDeps {
  engine: Engine;
  logger: Logger;
  metrics: Metrics;
  inFlight: InFlight;
}

/** The handlers, ready for `server.addService(processWorkerServiceDefinition, …)`. */
export function createHandlers({
  engine,
  logger,
  metrics,
  inFlight,
}: HandlerDeps): ProcessWorkerServiceServer & UntypedServiceImplementation {
  /** What every call does around its work: a signal for its deadline and cancellation, a
   * place among the calls in flight, and a metrics record ended with its status. */
  const begin = (call: CancellableCall, method: string) => {
    const { signal, hasDeadline, dispose } = callSignal(call);
    const exit = inFlight.enter();
    const record = metrics.startCall(method);
    return {
      signal,
      hasDeadline,
      /** Ends the call's bookkeeping; returns the status to send for `error`, if any. */
      finish: (error?: unknown): Partial<ServiceError> | undefined => {
        dispose();
        exit();
        const serviceError = error === undefined ? undefined : toServiceError(error, logger, method);
        record(serviceError ? statusName(serviceError.code) : "OK");
        return serviceError;
      },
    };
  };

  const unary =
    <Req, Res>(method: string, run: (request: Req, signal: AbortSignal) => Promise<Res>): handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const { signal, finish } = begin(call, method);
      run(call.request, signal).then(
        (response) => {
          finish();
          callback(null, response);
        },
        (error: unknown) => callback(finish(error) ?? null),
      );
    };

  const streaming =
    <Req>(
      method: string,
      open: (request: Req, hasDeadline: boolean) => Promise<SlotStream>,
    ): handleServerStreamingCall<Req, ComputeResponse | SubscribeResponse> =>
    (call) => {
      const { signal, hasDeadline, finish } = begin(call, method);
      metrics.streamOpened();
      let ended = false;
      const done = (error?: unknown): void => {
        if (ended) return;
        ended = true;
        metrics.streamClosed();
        if (call.cancelled) {
          finish(signal.reason);
          return;
        }
        const serviceError = finish(error);
        if (serviceError) call.emit("error", serviceError);
        else call.end();
      };
      open(call.request, hasDeadline).then(
        (stream) => {
          const stop = (): void => {
            stream.close();
            done(signal.reason);
          };
          if (signal.aborted) return stop();
          signal.addEventListener("abort", stop, { once: true });
          call.on("drain", () => stream.resume());
          stream.start({
            // The definition's serializer passes pre-encoded bytes through (see above).
            deliver: (result) => call.write(encodedResultResponse(result) as unknown as SubscribeResponse),
            end: () => {
              signal.removeEventListener("abort", stop);
              done();
            },
            fail: (error) => {
              signal.removeEventListener("abort", stop);
              done(error);
            },
          });
        },
        (error: unknown) => done(error),
      );
    };

  return {
    spawn: unary("Spawn", async (request) => {
      if (request.process === undefined) throw invalidArgument("process (the spawn message) is required");
      const processId = await engine.spawn(fromWireMessage(request.process), request.module);
      return { processId };
    }),
    schedule: unary("Schedule", async (request) => {
      const entries = await engine.schedule(request.processId, request.messages.map(fromWireMessage));
      metrics.scheduled(entries.length);
      return { assignments: entries.map((e) => ({ slot: e.slot, messageId: e.messageId })) };
    }),
    group: unary("Group", async (request) => {
      const group = await engine.group(request.processId, request.path, request.slot);
      return { group: group.name, kind: toWireGroupKind(group.kind) };
    }),
    compute: streaming("Compute", (request: ComputeRequest, hasDeadline) =>
      engine.compute(request.processId, request.slot, hasDeadline),
    ),
    await: unary("Await", async (request, signal) => ({
      result: toWireResult(await engine.await(request.processId, request.slot, signal)),
    })),
    subscribe: streaming("Subscribe", (request: SubscribeRequest) =>
      engine.subscribe(request.processId, request.fromSlot),
    ),
    stop: unary("Stop", async (request) => {
      const { stopped, atSlot } = await engine.stop(request.processId, request.skipSnapshot);
      return { stopped, ...(atSlot !== undefined ? { atSlot } : {}) };
    }),
    listWorkers: unary("ListWorkers", async () => ({ workers: engine.listWorkers().map(toWireWorkerInfo) })),
  };
}

/** The name of a status code for metrics labels ("INVALID_ARGUMENT"). */
function statusName(code: status | undefined): string {
  return code === undefined ? "UNKNOWN" : (status[code] ?? String(code));
}
