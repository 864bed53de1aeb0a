/**
 * How a stream of slot results (Compute, Subscribe) is written to its gRPC call: the
 * SlotConsumer of one call. Two shapes, chosen by the request's `max_results_per_response`:
 *
 * - **One result per response** (0 or 1, the default): each result is written as it comes,
 *   as `result` (field 1), in bytes encoded once for every stream (convert.ts).
 * - **Several per response** (above 1): the results delivered in one turn of the event loop
 *   (a published batch, a page read from the store) go out together as `results` (field 2),
 *   up to the count asked (at most MAX_RESULTS_PER_RESPONSE) and under a byte bound. A
 *   response is never held back to fill it: it is written in the microtask after the turn
 *   that delivered its results, so a live result costs no latency. gRPC's per-message cost
 *   (framing, an HTTP/2 write, callbacks) is paid once per response rather than once per
 *   result — several times cheaper per slot in a catch-up (docs/benchmarks.md, figure 3).
 *
 * A repeated field's elements are the same bytes as the single field's, only under another
 * tag (protobuf encodes a length-delimited field the same whichever its number), so a
 * response of several results is the single-result encodings copied one after another with
 * their first byte, the tag, changed: the per-result encoding stays shared by every stream.
 *
 * Flow control is counted in results either way: the consumer reports full once `depth`
 * results are written and not yet sent, and the stream holds the rest (result-stream.ts).
 */
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { SlotResult } from "../core/result.js";
import type { SlotConsumer, SlotStream } from "../worker/result-stream.js";
import { encodedResultResponse } from "./convert.js";

/** The most results one response carries, whatever the request asks. */
export const MAX_RESULTS_PER_RESPONSE = 1024;
/** A response of several results is kept under this many bytes (and under the server's
 * largest message); a single result larger than that still goes, alone. */
export const MAX_GROUPED_RESPONSE_BYTES = 256 * 1024;
/** With one result per response, every this-many-th write carries a callback that tells the
 * stream it was sent: a callback per result would cost a broadcast to many streams more than
 * the writes themselves. */
const SENT_EVERY = 16;
/** Tag of field 2 (`repeated SlotResult results`), length-delimited; field 1's is 0x0a. */
const RESULTS_TAG = 0x12;

/** What a slot writer needs of the call. */
export type SlotCall = Pick<ServerWritableStream<unknown, unknown>, "write" | "writableLength" | "on" | "cancelled">;

export interface SlotWriterOptions {
  /** The request's `max_results_per_response`. */
  perResponse: number;
  /** The server's largest message (bytes). */
  maxMessageBytes: number;
  /** The call ended (end or fail): write nothing more after this. */
  done: (error?: Error) => void;
}

/** The consumer that writes `stream`'s results to `call`. */
export function slotWriter(call: SlotCall, stream: SlotStream, opts: SlotWriterOptions): SlotConsumer {
  const perResponse = Math.min(opts.perResponse, MAX_RESULTS_PER_RESPONSE);
  return perResponse > 1
    ? groupedWriter(call, stream, perResponse, Math.min(MAX_GROUPED_RESPONSE_BYTES, opts.maxMessageBytes), opts.done)
    : singleWriter(call, stream, opts.done);
}

/** Full at `depth` unsent results; resumed once at most `resumeAt` are (a quarter of the
 * depth freed, at most 64), so a full stream is not woken for every result sent. */
function bounds(stream: SlotStream): { depth: number; resumeAt: number } {
  const depth = stream.depth;
  return { depth, resumeAt: depth - Math.max(1, Math.min(64, depth >> 2)) };
}

/** One result per response. Up to `depth` results wait in grpc-js (a whole batch of a
 * catch-up fits); the stream hears that the client is reading from a write callback on every
 * SENT_EVERY-th result and from `drain`. */
function singleWriter(call: SlotCall, stream: SlotStream, done: (error?: Error) => void): SlotConsumer {
  const { depth, resumeAt } = bounds(stream);
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
  return {
    deliver: (result) => {
      // The service definition's serializer passes pre-encoded bytes through.
      const bytes = encodedResultResponse(result);
      if (++writes % SENT_EVERY === 0) call.write(bytes, sent);
      else call.write(bytes);
      if (call.writableLength < depth) return true;
      full = true;
      return false;
    },
    end: () => done(),
    fail: (error) => done(error),
  };
}

/** Several results per response, gathered over one turn of the event loop. */
function groupedWriter(
  call: SlotCall,
  stream: SlotStream,
  perResponse: number,
  maxBytes: number,
  done: (error?: Error) => void,
): SlotConsumer {
  const { depth, resumeAt } = bounds(stream);
  /** The single-result encodings of the response being gathered. */
  let parts: Buffer[] = [];
  let partBytes = 0;
  let flushQueued = false;
  /** Results handed to grpc-js (or gathered) and not yet sent. */
  let unsent = 0;
  let full = false;
  let ended = false;

  const flush = (): void => {
    flushQueued = false;
    const count = parts.length;
    if (count === 0) return;
    if (call.cancelled) {
      // The client went away between the delivery and the end of its turn: nothing to send.
      parts = [];
      partBytes = 0;
      return;
    }
    const response = Buffer.allocUnsafe(partBytes);
    let at = 0;
    for (const part of parts) {
      // TypedArray#set: several times cheaper than Buffer#copy for parts this small.
      response.set(part, at);
      response[at] = RESULTS_TAG;
      at += part.length;
    }
    parts = [];
    partBytes = 0;
    call.write(response, () => {
      unsent -= count;
      stream.progress();
      if (full && unsent <= resumeAt) {
        full = false;
        stream.resume();
      }
    });
  };
  const finish = (error?: Error): void => {
    if (ended) return;
    ended = true;
    flush();
    done(error);
  };
  return {
    deliver: (result: SlotResult) => {
      const bytes = encodedResultResponse(result);
      if (parts.length !== 0 && partBytes + bytes.length > maxBytes) flush();
      parts.push(bytes);
      partBytes += bytes.length;
      unsent++;
      if (parts.length >= perResponse) flush();
      else if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(() => {
          if (!ended) flush();
        });
      }
      if (unsent < depth) return true;
      full = true;
      return false;
    },
    end: () => finish(),
    fail: (error) => finish(error),
  };
}
