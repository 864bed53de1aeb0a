import {
  Server,
  ServerCredentials,
  credentials,
  makeGenericClientConstructor,
  status,
  type Client,
  type ClientReadableStream,
  type ServerWritableStream,
  type ServiceError,
} from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { directSink, grpcSink, type ResponseSink } from "../../../src/service/response-sink.js";

/** One server-streaming method whose messages are raw bytes both ways. */
const identity = (bytes: Buffer): Buffer => bytes;
const definition = {
  Stream: {
    path: "/test.Sink/Stream",
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const SinkClient = makeGenericClientConstructor(definition, "Sink");

let server: Server | undefined;
let client: Client | undefined;
afterEach(() => {
  client?.close();
  server?.forceShutdown();
  server = client = undefined;
});

/** A real grpc-js server whose one method runs `handler`, and a client of it. */
async function serve(handler: (call: ServerWritableStream<Buffer, Buffer>) => Promise<void> | void) {
  server = new Server({ "grpc.enable_channelz": 0 });
  server.addService(definition, { Stream: (call: ServerWritableStream<Buffer, Buffer>) => void handler(call) });
  const port = await new Promise<number>((resolve, reject) =>
    server!.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  client = new SinkClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return (client as unknown as { Stream(req: Buffer): ClientReadableStream<Buffer> }).Stream(Buffer.alloc(0));
}

/** Every message the stream carries, and its status. */
function read(stream: ClientReadableStream<Buffer>): Promise<{ messages: string[]; code: number }> {
  const messages: string[] = [];
  return new Promise((resolve) => {
    stream.on("data", (m: Buffer) => messages.push(m.toString()));
    stream.on("error", (e: ServiceError) => resolve({ messages, code: e.code }));
    stream.on("status", (s: { code: status }) => {
      if (s.code === status.OK) resolve({ messages, code: s.code });
    });
  });
}

const texts = (...t: string[]): Buffer[] => t.map((s) => Buffer.from(s));
const writeAll = (sink: ResponseSink, responses: Buffer[]): Promise<void> =>
  new Promise((resolve) =>
    sink.write(
      responses,
      responses.reduce((n, r) => n + r.length, 0),
      resolve,
    ),
  );

describe("response sink", () => {
  it("reaches the HTTP/2 stream of a grpc-js server call (fails if a grpc-js upgrade takes the way away)", async () => {
    let found: ResponseSink | undefined;
    const stream = await serve((call) => {
      found = directSink(call);
      call.end();
    });
    await read(stream);
    expect(found).toBeDefined();
  });

  it("is not found on something that is not a grpc-js server call", () => {
    const call = { write: () => true, sendMetadata: () => undefined, cancelled: false };
    expect(directSink(call)).toBeUndefined();
    const notHttp2 = { ...call, call: { nextCall: { stream: { write: () => true } } } };
    expect(directSink(notHttp2)).toBeUndefined();
  });

  it.each([
    ["direct", (call: ServerWritableStream<Buffer, Buffer>) => directSink(call)!],
    ["through grpc-js", (call: ServerWritableStream<Buffer, Buffer>) => grpcSink(call)],
  ])("%s: the client reads each response as its own message, in order, then OK", async (_name, sinkOf) => {
    const stream = await serve(async (call) => {
      const sink = sinkOf(call);
      await writeAll(sink, texts("one", "", "three"));
      await writeAll(sink, texts("x".repeat(70_000)));
      await writeAll(sink, texts("last"));
      call.end();
    });
    const { messages, code } = await read(stream);
    expect(code).toBe(status.OK);
    expect(messages).toEqual(["one", "", "three", "x".repeat(70_000), "last"]);
  });

  it("direct: an error status after direct writes reaches the client after the messages", async () => {
    const stream = await serve(async (call) => {
      await writeAll(directSink(call)!, texts("a", "b"));
      call.emit("error", { code: status.RESOURCE_EXHAUSTED, details: "too big" });
    });
    const { messages, code } = await read(stream);
    expect(messages).toEqual(["a", "b"]);
    expect(code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it("direct: writing after the client cancelled neither throws nor fails the server, and still reports sent", async () => {
    let later: Promise<void> | undefined;
    let cancelled!: () => void;
    const gone = new Promise<void>((resolve) => (cancelled = resolve));
    const stream = await serve(async (call) => {
      const sink = directSink(call)!;
      await writeAll(sink, texts("first"));
      call.on("cancelled", () => {
        later = writeAll(sink, texts("after"));
        cancelled();
      });
    });
    stream.on("data", () => stream.cancel());
    stream.on("error", () => undefined);
    await gone;
    // Resolves: `sent` runs though nothing was written (an error event would fail the test).
    await expect(later).resolves.toBeUndefined();
  });
});
