/**
 * Where a server stream's responses go: several of them in one HTTP/2 write.
 *
 * grpc-js sends every response on its own: through an object-mode Writable, a serializer, a
 * copy into a framed buffer, one HTTP/2 write and its callback. Measured here that is 12–18 µs
 * of server CPU per response, more than a catch-up spends computing and storing the slot
 * (docs/benchmarks.md, "A turn's responses leave in one HTTP/2 write"). On the wire a gRPC stream is only a byte stream of
 * length-prefixed messages (a flag byte, 0 for uncompressed, then a big-endian u32 length and
 * the message), so any number of responses can share one HTTP/2 write: the client reads
 * exactly the messages it would have read one by one. Written that way a response costs about
 * one microsecond.
 *
 * grpc-js (1.14) has no public way to write framed bytes, so `directSink` reaches the call's
 * HTTP/2 stream through the call's own fields, recognised by their shape. When they are not
 * there (another grpc-js, or a call that is not a grpc-js server call), it returns undefined
 * and `grpcSink` writes each response through `call.write` as before: same bytes on the wire,
 * only slower. A test fails when the installed grpc-js no longer offers the direct way, so an
 * upgrade cannot lose it unnoticed.
 *
 * What the direct way leaves out of grpc-js's per-message path, and why nothing is lost:
 * - the response headers, which grpc-js sends before the first message: sent through the
 *   public `sendMetadata` before the first direct write;
 * - compression: grpc-js servers never compress responses (the flag byte is always 0);
 * - the largest-message check: the slot writer checks every response against the server's
 *   limit itself and fails the call with RESOURCE_EXHAUSTED, as grpc-js would;
 * - interceptors' `sendMessage`: none of this server's interceptors has one (connections.ts,
 *   access.ts);
 * - channelz message counts: channelz is off on this server (server.ts).
 * A call's responses must all go one way: grpc-js may still hold earlier `call.write`s in its
 * own buffer, which direct writes would overtake. The slot writer picks a sink once per call.
 */
import { Metadata, type ServerWritableStream } from "@grpc/grpc-js";

/** Writes a call's responses, given as encoded messages. */
export interface ResponseSink {
  /** Sends `responses` in order; `sent` runs once the last of them is written out (or the
   * stream failed, which ends the call through its close). `bytes`: their total length. */
  write(responses: readonly Buffer[], bytes: number, sent: () => void): void;
}

/** What a sink needs of the call. */
export type SinkCall = Pick<ServerWritableStream<unknown, unknown>, "write" | "sendMetadata" | "cancelled">;

/** The part of Node's ServerHttp2Stream a direct sink writes to. */
interface Http2Writable {
  write(chunk: Buffer, callback: (error?: Error | null) => void): boolean;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
}

/** Bytes before each message on the wire: the compressed flag and the length. */
const FRAME_HEADER = 5;
/** How deep the chain of intercepting calls is searched for the one holding the stream. */
const MAX_CALL_DEPTH = 16;

/** Writes each response through grpc-js (`call.write`), one HTTP/2 write each; the last one
 * carries `sent` (grpc-js writes in order, so it is sent after the others). */
export function grpcSink(call: Pick<SinkCall, "write">): ResponseSink {
  return {
    write(responses, _bytes, sent) {
      const last = responses.length - 1;
      for (let i = 0; i < last; i++) call.write(responses[i]);
      call.write(responses[last], sent);
    },
  };
}

/** Writes the responses framed, all in one HTTP/2 write, straight to the call's stream; or
 * undefined when the call does not show grpc-js's fields (see the file comment). */
export function directSink(call: SinkCall): ResponseSink | undefined {
  const stream = http2StreamOf(call);
  if (stream === undefined) return undefined;
  let headersSent = false;
  return {
    write(responses, bytes, sent) {
      if (stream.destroyed || stream.writableEnded) return sent();
      if (!headersSent) {
        headersSent = true;
        call.sendMetadata(new Metadata()); // grpc-js sends them once: a no-op if already sent
      }
      const framed = Buffer.allocUnsafe(bytes + FRAME_HEADER * responses.length);
      let at = 0;
      for (const response of responses) {
        framed[at] = 0; // not compressed
        framed.writeUInt32BE(response.length, at + 1);
        framed.set(response, at + FRAME_HEADER);
        at += FRAME_HEADER + response.length;
      }
      stream.write(framed, () => sent());
    },
  };
}

/** The sink for `call`: direct when grpc-js lets it, else through grpc-js. */
export function responseSink(call: SinkCall): ResponseSink {
  return directSink(call) ?? grpcSink(call);
}

/**
 * The HTTP/2 stream under a grpc-js server call: `call.call` is the outermost intercepting
 * call, each holding the next in `nextCall`, down to the base call, whose `stream` is the
 * ServerHttp2Stream. Undefined when that shape is not found.
 */
function http2StreamOf(call: object): Http2Writable | undefined {
  let at: unknown = (call as { call?: unknown }).call;
  for (let depth = 0; depth < MAX_CALL_DEPTH && typeof at === "object" && at !== null; depth++) {
    const stream = (at as { stream?: unknown }).stream;
    if (isHttp2Stream(stream)) return stream;
    at = (at as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

function isHttp2Stream(value: unknown): value is Http2Writable {
  if (typeof value !== "object" || value === null) return false;
  const stream = value as Record<string, unknown>;
  return (
    typeof stream["write"] === "function" &&
    typeof stream["respond"] === "function" &&
    typeof stream["sendTrailers"] === "function" &&
    typeof stream["session"] === "object"
  );
}
