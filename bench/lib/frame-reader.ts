/**
 * The benchmarks' stream reader: one server-streaming gRPC call over Node's own HTTP/2 client,
 * its responses cut out of the byte stream by their 5-byte gRPC prefix (flag, big-endian
 * length) and handed over as views, with no deserializer, no object-mode stream and no event
 * per message. A grpc-js client spends ~10–20 µs of its own CPU on each message it reads; on
 * a two-core machine that client, not the server, sets a stream's pace (see
 * docs/benchmarks.md, "Stream figures are read by a frame reader"). With this reader a
 * stream figure is the server's cost. Insecure connections only (the bench servers).
 */
import { connect, constants, type IncomingHttpHeaders } from "node:http2";

/** What a finished call read. */
export interface StreamRead {
  /** Responses read. */
  messages: number;
  /** Response bytes read (prefixes excluded). */
  bytes: number;
}

/** A call that ended with a status other than OK. */
export class StreamStatusError extends Error {
  constructor(
    readonly code: number,
    details: string,
  ) {
    super(`stream ended with status ${code}: ${details}`);
  }
}

const PREFIX = 5;

/**
 * Calls `path` (`/package.Service/Method`) at `address` (host:port) with the request's
 * protobuf bytes, on a connection of its own, and reads the response stream to its end, or
 * until `stopAfter` responses when given (it then cancels the call: for a stream that does not
 * end by itself, such as Subscribe); `onMessage` sees each response (a view, valid only during
 * the call). Rejects when the status is not OK, or the connection fails.
 */
export function readStream(
  address: string,
  path: string,
  request: Uint8Array,
  onMessage?: (response: Buffer) => void,
  stopAfter?: number,
): Promise<StreamRead> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${address}`);
    const fail = (error: Error): void => {
      session.destroy();
      reject(error);
    };
    session.on("error", fail);
    const framed = Buffer.alloc(PREFIX + request.byteLength);
    framed.writeUInt32BE(request.byteLength, 1);
    framed.set(request, PREFIX);
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: path,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
      te: "trailers",
    });
    const read: StreamRead = { messages: 0, bytes: 0 };
    /** The bytes of a response cut by a chunk's end (rare: whole responses are written). */
    let partial: Buffer | undefined;
    let status: { code: number; details: string } | undefined;
    let stopped = false;
    const take = (bytes: Buffer): void => {
      let at = 0;
      while (!stopped && bytes.length - at >= PREFIX) {
        const length = bytes.readUInt32BE(at + 1);
        if (bytes.length - at - PREFIX < length) break;
        const response = bytes.subarray(at + PREFIX, at + PREFIX + length);
        at += PREFIX + length;
        read.messages++;
        read.bytes += length;
        onMessage?.(response);
        if (read.messages === stopAfter) {
          stopped = true;
          stream.close(constants.NGHTTP2_CANCEL);
        }
      }
      partial = stopped || at === bytes.length ? undefined : Buffer.from(bytes.subarray(at));
    };
    stream.on("data", (chunk: Buffer) => take(partial === undefined ? chunk : Buffer.concat([partial, chunk])));
    const statusOf = (headers: IncomingHttpHeaders): void => {
      const code = headers["grpc-status"];
      const details = headers["grpc-message"];
      if (code !== undefined)
        status = { code: Number(code), details: typeof details === "string" ? decodeURIComponent(details) : "" };
    };
    stream.on("response", statusOf); // a trailers-only response carries its status in the headers
    stream.on("trailers", statusOf);
    stream.on("error", fail);
    stream.on("close", () => {
      session.close();
      if (stopped) return resolve(read);
      if (status === undefined)
        return reject(new Error(`stream closed without a status (HTTP/2 code ${stream.rstCode})`));
      if (status.code !== 0) return reject(new StreamStatusError(status.code, status.details));
      if (partial !== undefined) return reject(new Error(`stream ended inside a response (${partial.length} bytes)`));
      resolve(read);
    });
    stream.end(framed);
  });
}
