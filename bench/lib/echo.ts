/**
 * The raw grpc-js baselines: a server in this process with
 *   - Echo (unary): answers with a preset reply of the size procworker would answer with;
 *   - Listen (server stream): sends one message when the stream opens, then every broadcast;
 *   - Trigger (unary): acknowledges, then writes one pre-encoded message to every open Listen stream;
 *   - EchoDurable (unary): like Echo, but first does one durable write (`durable`, a raw
 *     LMDB put) — the floor of a durable unary call such as Schedule.
 *   - Pipeline (unary): the raw pipeline of a live slot: one durable write (the schedule
 *     entry), the reply (the ack), a second durable write (the result), then one pre-encoded
 *     message to every open Listen stream (the notification).
 *   - Flood (server stream): the request holds two u32s (count, size); writes `count`
 *     pre-encoded messages of `size` bytes, waiting for `drain` when grpc-js says so, then
 *     ends — the floor of a Compute stream.
 * Messages are raw bytes (identity serializers): no protobuf, no engine.
 */
import {
  credentials,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type Client,
  type ClientReadableStream,
  type ServerWritableStream,
  type ServiceDefinition,
} from "@grpc/grpc-js";

const bytes = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };
const method = (name: string, responseStream: boolean) => ({
  path: `/bench.Echo/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: bytes.serialize,
  requestDeserialize: bytes.deserialize,
  responseSerialize: bytes.serialize,
  responseDeserialize: bytes.deserialize,
});

const definition: ServiceDefinition = {
  Echo: method("Echo", false),
  Listen: method("Listen", true),
  Trigger: method("Trigger", false),
  EchoDurable: method("EchoDurable", false),
  Pipeline: method("Pipeline", false),
  Flood: method("Flood", true),
};

const EchoClientCtor = makeGenericClientConstructor(definition, "Echo");

export interface EchoServer {
  address: string;
  /** Sets the size of Echo replies and of broadcast messages. */
  setReplyBytes(n: number): void;
  /** Open Listen streams. */
  listeners(): number;
  close(): Promise<void>;
}

export async function startEchoServer(durable: () => Promise<unknown>): Promise<EchoServer> {
  let reply = Buffer.alloc(64, 7);
  const streams = new Set<ServerWritableStream<Buffer, Buffer>>();
  const server = new Server();
  server.addService(definition, {
    Echo: (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) => cb(null, reply),
    Listen: (call: ServerWritableStream<Buffer, Buffer>) => {
      streams.add(call);
      const drop = (): void => void streams.delete(call);
      call.on("cancelled", drop);
      call.on("error", drop);
      call.on("close", drop);
      call.write(reply);
    },
    EchoDurable: (call: { request: Buffer }, cb: (e: Error | null, r?: Buffer) => void) => {
      durable().then(
        () => cb(null, reply),
        (error: Error) => cb(error),
      );
    },
    Pipeline: (call: { request: Buffer }, cb: (e: Error | null, r?: Buffer) => void) => {
      durable()
        .then(() => {
          cb(null, reply);
          return durable();
        })
        .then(
          () => {
            for (const s of streams) s.write(reply);
          },
          (error: Error) => cb(error),
        );
    },
    Flood: (call: ServerWritableStream<Buffer, Buffer>) => {
      const count = call.request.readUInt32LE(0);
      const message = Buffer.alloc(call.request.readUInt32LE(4), 7);
      let sent = 0;
      const more = (): void => {
        while (sent < count) {
          sent++;
          if (!call.write(message)) return void call.once("drain", more);
        }
        call.end();
      };
      more();
    },
    Trigger: (_call: unknown, cb: (e: null, r: Buffer) => void) => {
      cb(null, reply);
      const message = reply; // encoded once, written to every stream
      setImmediate(() => {
        for (const s of streams) s.write(message);
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    setReplyBytes: (n) => void (reply = Buffer.alloc(n, 7)),
    listeners: () => streams.size,
    close: async () => {
      for (const s of streams) s.end();
      streams.clear();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

/** The request of a Flood of `count` messages of `size` bytes (two little-endian u32s). */
export function floodRequest(count: number, size: number): Buffer {
  const request = Buffer.alloc(8);
  request.writeUInt32LE(count, 0);
  request.writeUInt32LE(size, 4);
  return request;
}

export interface EchoClient {
  echo(payload: Buffer): Promise<Buffer>;
  echoDurable(payload: Buffer): Promise<Buffer>;
  pipeline(payload: Buffer): Promise<Buffer>;
  trigger(): Promise<Buffer>;
  listen(): ClientReadableStream<Buffer>;
  /** Reads a Flood of `count` messages of `size` bytes to its end; resolves with how many came. */
  flood(count: number, size: number): Promise<number>;
  close(): void;
}

/** A client; `ownConnection` gives it its own HTTP/2 connection (a local subchannel pool). */
export function echoClient(address: string, ownConnection = false): EchoClient {
  const client = new EchoClientCtor(
    address,
    credentials.createInsecure(),
    ownConnection ? { "grpc.use_local_subchannel_pool": 1 } : {},
  ) as Client & Record<string, Function>;
  const unary = (name: string, payload: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) =>
      (client[name] as Function).call(client, payload, (err: Error | null, res: Buffer) =>
        err ? reject(err) : resolve(res),
      ),
    );
  return {
    echo: (payload) => unary("Echo", payload),
    echoDurable: (payload) => unary("EchoDurable", payload),
    pipeline: (payload) => unary("Pipeline", payload),
    trigger: () => unary("Trigger", Buffer.alloc(0)),
    listen: () => (client["Listen"] as Function).call(client, Buffer.alloc(0)) as ClientReadableStream<Buffer>,
    flood: (count, size) =>
      new Promise((resolve, reject) => {
        const stream = (client["Flood"] as Function).call(
          client,
          floodRequest(count, size),
        ) as ClientReadableStream<Buffer>;
        let got = 0;
        stream.on("data", () => got++);
        stream.on("error", reject);
        stream.on("end", () => resolve(got));
      }),
    close: () => client.close(),
  };
}
