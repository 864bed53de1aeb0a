/**
 * What every call does around its work, in one place: its deadline and cancellation as an
 * AbortSignal, its place among the calls in flight, a metrics record ended with its status,
 * and every error leaving through `toServiceError`. Three shapes of call: unary, a stream of
 * slot results (push: written as they come, one or several per response, pausing on HTTP/2
 * flow control), and a stream of anything else read from an async iterable (waiting for
 * `drain`, so a slow client never makes the server buffer without bound).
 */
import { once } from "node:events";
import {
  status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerWritableStream,
  type ServiceError,
} from "@grpc/grpc-js";
import type { Logger } from "../core/log.js";
import type { SlotStream } from "../worker/result-stream.js";
import { callSignal, type CancellableCall } from "./call-signal.js";
import { decoded } from "./decoding.js";
import type { InFlight } from "./in-flight.js";
import type { Metrics } from "./metrics.js";
import { slotWriter } from "./slot-writer.js";
import { toServiceError } from "./status.js";

export interface CallDeps {
  logger: Logger;
  metrics: Metrics;
  inFlight: InFlight;
  /** The largest message the server sends (bytes). */
  maxMessageBytes: number;
}

/** The three call shapes, each bound to the deps. */
export interface CallKinds {
  /** A unary call; `signal()` gives the call's AbortSignal (made on first use: ask for it
   * only when the call has to wait). */
  unary: <Req, Res>(
    method: string,
    run: (request: Req, signal: () => AbortSignal) => Promise<Res>,
  ) => handleUnaryCall<Req, Res>;
  /** A stream of slot results, written by slot-writer.ts (pre-encoded, see the service
   * definition), one or several per response as the request asks. */
  slots: <Req extends GroupingRequest, Res>(
    method: string,
    open: (request: Req, hasDeadline: boolean) => Promise<SlotStream>,
  ) => handleServerStreamingCall<Req, Res>;
  /** A stream of `toResponse(item)` for every item of an async iterable. */
  items: <Req, Res, Item>(
    method: string,
    open: (request: Req) => Promise<AsyncIterable<Item>>,
    toResponse: (item: Item) => Res,
  ) => handleServerStreamingCall<Req, Res>;
}

/** A request of a stream of slot results. */
interface GroupingRequest {
  maxResultsPerResponse?: number;
}

export function callKinds({ logger, metrics, inFlight, maxMessageBytes }: CallDeps): CallKinds {
  const begin = (call: CancellableCall, method: string) => {
    const callSignals = callSignal(call);
    const dispose = (): void => callSignals.dispose();
    const exit = inFlight.enter();
    const record = metrics.startCall(method);
    return {
      signal: (): AbortSignal => callSignals.signal,
      hasDeadline: callSignals.hasDeadline,
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

  /** Ends a server stream once: its status (OK, or the error's), unless the client left. */
  const streamEnder = (call: ServerWritableStream<unknown, unknown>, method: string) => {
    const begun = begin(call, method);
    const { hasDeadline, finish } = begun;
    const signal = begun.signal(); // a stream always listens for its caller going away
    metrics.streamOpened();
    let ended = false;
    return {
      signal,
      hasDeadline,
      done: (error?: unknown): void => {
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
      },
    };
  };

  return {
    unary: (method, run) => (call, callback) => {
      const { signal, finish } = begin(call, method);
      Promise.resolve()
        .then(() => run(decoded(call.request), signal))
        .then(
          (response) => {
            finish();
            callback(null, response);
          },
          (error: unknown) => callback(finish(error) ?? null),
        );
    },

    slots: <Req extends GroupingRequest, Res>(
      method: string,
      open: (request: Req, hasDeadline: boolean) => Promise<SlotStream>,
    ) =>
      ((call) => {
        const { signal, hasDeadline, done } = streamEnder(call, method);
        Promise.resolve()
          .then(async () => {
            const request = decoded(call.request); // throws INVALID_ARGUMENT: inside the chain
            return { stream: await open(request, hasDeadline), perResponse: request.maxResultsPerResponse ?? 0 };
          })
          .then(
            ({ stream, perResponse }) => {
              const stop = (): void => {
                stream.close();
                done(signal.reason);
              };
              if (signal.aborted) return stop();
              signal.addEventListener("abort", stop, { once: true });
              const detach = (): void => signal.removeEventListener("abort", stop);
              stream.start(
                slotWriter(call, stream, {
                  perResponse,
                  maxMessageBytes,
                  done: (error) => {
                    detach();
                    done(error);
                  },
                }),
              );
            },
            (error: unknown) => done(error),
          );
      }) satisfies handleServerStreamingCall<Req, Res>,

    items: (method, open, toResponse) => (call) => {
      const { signal, done } = streamEnder(call, method);
      const pipe = async (): Promise<void> => {
        for await (const item of await open(decoded(call.request))) {
          if (signal.aborted) return;
          if (!call.write(toResponse(item))) await once(call, "drain", { signal }).catch(() => undefined);
        }
      };
      pipe().then(
        () => done(signal.aborted ? signal.reason : undefined),
        (error: unknown) => done(error),
      );
    },
  };
}

/** The name of a status code for metrics labels ("INVALID_ARGUMENT"). */
function statusName(code: status | undefined): string {
  return code === undefined ? "UNKNOWN" : (status[code] ?? String(code));
}
