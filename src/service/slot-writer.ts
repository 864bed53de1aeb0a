/**
 * How a stream of slot results (Compute, Subscribe) is written to its gRPC call: the
 * SlotConsumer of one call. Two shapes of response, chosen by the request's
 * `max_results_per_response`:
 *
 * - **One result per response** (0 or 1, the default): each result is its own response, as
 *   `result` (field 1), in bytes encoded once for every stream (convert.ts).
 * - **Several per response** (above 1): the results go out together as `results` (field 2),
 *   up to the count asked (at most MAX_RESULTS_PER_RESPONSE) and under a byte bound.
 *
 * Either way the results delivered in one turn of the event loop (a published batch, a page
 * read from the store) are gathered and written together, in the microtask after that turn,
 * so a live result costs no latency, and in one HTTP/2 write when the call allows it
 * (response-sink.ts): gRPC's per-write cost is paid once per turn rather than once per result.
 *
 * A repeated field's elements are the same bytes as the single field's, only under another
 * tag (protobuf encodes a length-delimited field the same whichever its number), so a
 * response of several results is the single-result encodings copied one after another with
 * their first byte, the tag, changed: the per-result encoding stays shared by every stream.
 *
 * Flow control is counted in results: the consumer reports full once `depth` results are
 * delivered and not yet sent, and the stream holds the rest (result-stream.ts).
 */
import { ProcworkerError } from "../core/errors.js";
import { isEncodedResult, type SlotConsumer, type SlotStream, type StreamedResult } from "../worker/result-stream.js";
import { encodedResultResponse } from "./convert.js";
import { encodeStoredResultResponse } from "./result-bytes.js";
import { responseSink, type ResponseSink, type SinkCall } from "./response-sink.js";

/** The most results one response carries, whatever the request asks. */
export const MAX_RESULTS_PER_RESPONSE = 1024;
/** A response of several results is kept under this many bytes (and under the server's
 * largest message); a single result larger than that still goes, alone. */
export const MAX_GROUPED_RESPONSE_BYTES = 256 * 1024;
/** Complete responses are written once they reach this many bytes, without waiting for the
 * end of the turn (a catch-up delivers a whole batch in one turn). */
const WRITE_BYTES = 64 * 1024;
/** Tag of field 2 (`repeated SlotResult results`), length-delimited; field 1's is 0x0a. */
const RESULTS_TAG = 0x12;

/** What a slot writer needs of the call. */
export type SlotCall = SinkCall;

export interface SlotWriterOptions {
  /** The request's `max_results_per_response`. */
  perResponse: number;
  /** The server's largest message (bytes). */
  maxMessageBytes: number;
  /** The call ended (end or fail): write nothing more after this. */
  done: (error?: Error) => void;
  /** Where the responses go (default: responseSink(call)). */
  sink?: ResponseSink;
}

/** The consumer that writes `stream`'s results to `call`. */
export function slotWriter(call: SlotCall, stream: SlotStream, opts: SlotWriterOptions): SlotConsumer {
  const perResponse = Math.max(1, Math.min(opts.perResponse, MAX_RESULTS_PER_RESPONSE));
  const maxResponseBytes = perResponse > 1 ? Math.min(MAX_GROUPED_RESPONSE_BYTES, opts.maxMessageBytes) : 0;
  const sink = opts.sink ?? responseSink(call);
  const { depth, resumeAt } = bounds(stream);
  /** Responses complete and not yet written, their bytes, and the results they carry. */
  let responses: Buffer[] = [];
  let responseBytes = 0;
  let responseResults = 0;
  /** The single-result encodings of the response being gathered (several per response). */
  let parts: Buffer[] = [];
  let partBytes = 0;
  let flushQueued = false;
  /** Results delivered and not yet sent. */
  let unsent = 0;
  let full = false;
  let ended = false;

  const complete = (response: Buffer, results: number): void => {
    responses.push(response);
    responseBytes += response.length;
    responseResults += results;
  };
  /** The gathered parts as one response of `results`. */
  const completeParts = (): void => {
    if (parts.length === 0) return;
    const response = Buffer.allocUnsafe(partBytes);
    let at = 0;
    for (const part of parts) {
      // TypedArray#set: several times cheaper than Buffer#copy for parts this small.
      response.set(part, at);
      response[at] = RESULTS_TAG;
      at += part.length;
    }
    complete(response, parts.length);
    parts = [];
    partBytes = 0;
  };
  const sent = (count: number) => (): void => {
    unsent -= count;
    stream.progress();
    if (full && unsent <= resumeAt) {
      full = false;
      stream.resume();
    }
  };
  /**
   * Writes every complete response, and the one being gathered too at the end of a turn
   * (`turnEnded`). A response over the server's largest message is not sent: grpc-js would
   * fail the call with RESOURCE_EXHAUSTED, and so does this. The responses before it are
   * written, nothing after it, and the call's error is returned.
   */
  const flush = (turnEnded: boolean): Error | undefined => {
    if (turnEnded) {
      flushQueued = false;
      completeParts();
    }
    const count = responseResults;
    if (count === 0) return undefined;
    const batch = responses;
    const bytes = responseBytes;
    responses = [];
    responseBytes = 0;
    responseResults = 0;
    // The client went away between the delivery and the end of its turn: nothing to send.
    if (call.cancelled) return undefined;
    const tooLarge = batch.findIndex((response) => response.length > opts.maxMessageBytes);
    if (tooLarge < 0) {
      sink.write(batch, bytes, sent(count));
      return undefined;
    }
    parts = [];
    partBytes = 0;
    const before = batch.slice(0, tooLarge);
    if (before.length > 0) sink.write(before, byteLength(before), () => undefined); // the call ends next
    const size = batch[tooLarge]!.length;
    const limit = opts.maxMessageBytes;
    return new ProcworkerError(
      "resource_exhausted",
      `a response of ${size} bytes is over the server's largest message (${limit} bytes)`,
    );
  };
  /** Ends the call once: `error`, or the error of a response too large to send. */
  const end = (error: Error | undefined): void => {
    ended = true;
    opts.done(error);
  };
  /** Ends the call once, after writing what was gathered. */
  const finish = (error?: Error): void => {
    if (ended) return;
    end(flush(true) ?? error);
  };
  /** A flush outside end and fail: a response too large ends the call, and its stream. */
  const flushOrFail = (turnEnded: boolean): void => {
    const error = flush(turnEnded);
    if (error === undefined) return;
    stream.close();
    end(error);
  };
  const turnEnded = (): void => {
    if (!ended) flushOrFail(true);
  };
  return {
    deliver: (result: StreamedResult) => {
      if (ended) return false;
      const bytes = isEncodedResult(result) ? encodeStoredResultResponse(result.value) : encodedResultResponse(result);
      if (perResponse === 1) complete(bytes, 1);
      else {
        if (parts.length !== 0 && partBytes + bytes.length > maxResponseBytes) completeParts();
        parts.push(bytes);
        partBytes += bytes.length;
        if (parts.length >= perResponse) completeParts();
      }
      unsent++;
      if (responseBytes >= WRITE_BYTES) flushOrFail(false);
      else if (!flushQueued) {
        flushQueued = true;
        atTurnEnd(turnEnded);
      }
      if (unsent < depth) return true;
      full = true;
      return false;
    },
    end: () => finish(),
    fail: (error) => finish(error),
  };
}

/** Writers with responses gathered in this turn, flushed in the microtask after it: one
 * microtask for all of them rather than one each (a broadcast reaches thousands of streams
 * in one turn). */
const due: (() => void)[] = [];

function atTurnEnd(flush: () => void): void {
  if (due.push(flush) === 1) queueMicrotask(flushDue);
}

/** Runs every due flush, those added meanwhile too. If one throws, the rest run in a new
 * microtask (the error still surfaces, as it would from a microtask of its own). */
function flushDue(): void {
  let next = 0;
  try {
    while (next < due.length) due[next++]!();
  } finally {
    due.splice(0, next);
    if (due.length > 0) queueMicrotask(flushDue);
  }
}

function byteLength(buffers: readonly Buffer[]): number {
  let bytes = 0;
  for (const buffer of buffers) bytes += buffer.length;
  return bytes;
}

/** Full at `depth` unsent results; resumed once at most `resumeAt` are (a quarter of the
 * depth freed, at most 64), so a full stream is not woken for every result sent. */
function bounds(stream: SlotStream): { depth: number; resumeAt: number } {
  const depth = stream.depth;
  return { depth, resumeAt: depth - Math.max(1, Math.min(64, depth >> 2)) };
}
