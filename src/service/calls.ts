/**
 * What every call does around its work, in one place: its deadline and cancellation as an
 * AbortSignal, its place among the calls in flight, a metrics record ended with its status,
 * and every error leaving through `toServiceError`. Three shapes of call: unary, a stream of
 * slot results (push: written as they come, pausing on HTTP/2 flow control), and a stream of
 * anything else read from an async iterable (waiting for `drain`, so a slow client never
 * makes the server buffer without bound).
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
import { encodedResultResponse } from "./convert.js";
import { decoded } from "./decoding.js";
import type { InFlight } from "./in-flight.js";
import type { Metrics } from "./metrics.js";
import { toServiceError } from "./status.js";

/** A streamed result in this many carries a callback that tells the stream it was sent. */
const SENT_EVERY = 16;

export interface CallDeps {
  logger: Logger;
  metrics: Metrics;
  inFlight: InFlight;
}

/** The three call shapes, each bound to the deps. */
export interface CallKinds {
  /** A unary call; `signal()` gives the call's AbortSignal (made on first use: ask for it
   * only when the call has to wait). */
  unary: <Req, Res>(
    method: string,
    run: (request: Req, signal: () => AbortSignal) => Promise<Res>,
  ) => handleUnaryCall<Req, Res>;
  /** A stream of slot results; its responses are written pre-encoded (see the service definition). */
  slots: <Req, Res>(
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

export function callKinds({ logger, metrics, inFlight }: CallDeps): CallKinds {
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

    slots: <Req, Res>(method: string, open: (request: Req, hasDeadline: boolean) => Promise<SlotStream>) =>
      ((call) => {
        const { signal, hasDeadline, done } = streamEnder(call, method);
        Promise.resolve()
          .then(() => open(decoded(call.request), hasDeadline))
          .then(
            (stream) => {
              const stop = (): void => {
                stream.close();
                done(signal.reason);
              };
              if (signal.aborted) return stop();
              signal.addEventListener("abort", stop, { once: true });
              const detach = (): void => signal.removeEventListener("abort", stop);
              // Up to `depth` results wait in grpc-js (a whole batch of a catch-up fits); once
              // that many are unsent the stream holds the rest. It hears that the client is
              // reading (HTTP/2 flow control let results through) from a write callback on every
              // SENT_EVERY-th result, and from `drain` — not from a callback per result, which
              // would cost a broadcast to many streams more than the writes themselves.
              const depth = stream.depth;
              const resumeAt = depth - Math.max(1, Math.min(64, depth >> 2));
              let writes = 0;
              let full = false;
              const sent = (): void => {
                stream.progress();
                if (full && call.writableLength <= resumeAt) {
                  full = false;
                  stream.resume();
                }
              };
              call.on("drain", sent);
              stream.start({
                deliver: (result) => {
                  // The service definition's serializer passes pre-encoded bytes through.
                  const bytes = encodedResultResponse(result) as Res;
                  if (++writes % SENT_EVERY === 0) call.write(bytes, sent);
                  else call.write(bytes);
                  if (call.writableLength < depth) return true;
                  full = true;
                  return false;
                },
                end: () => {
                  detach();
                  done();
                },
                fail: (error) => {
                  detach();
                  done(error);
                },
              });
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
