/**
 * The procworker server of the benchmarks, in its own process (bench/process/server.ts), and
 * the client's side of it: a typed client, clients on their own HTTP/2 connections, a
 * raw-bytes client for streams (the client decodes nothing it does not need, so its own
 * cost stays small on a shared machine), and helpers to build messages and spawn processes.
 */
import {
  credentials,
  makeGenericClientConstructor,
  type Client,
  type ClientReadableStream,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import type { Config } from "../../src/core/config.js";
import { ProcworkerClient } from "../../src/service/client.js";
import {
  AwaitRequest,
  ComputeRequest,
  SubscribeRequest,
} from "../../src/generated/procworker/v1/process_worker_service.js";
import type { Message } from "../../src/generated/procworker/v1/types.js";
import { startChild, type Child } from "./child.js";
import type { CpuSample } from "./probe.js";

export interface BenchServer {
  child: Child;
  client: ProcworkerClient;
  address: string;
  /** A typed client on its own HTTP/2 connection. */
  newClient(): ProcworkerClient;
  /** A raw-bytes client on its own HTTP/2 connection. */
  rawClient(): RawClient;
  cpu(): Promise<CpuSample>;
  close(): Promise<void>;
}

export async function startBenchServer(overrides: Partial<Config> = {}): Promise<BenchServer> {
  const child = startChild("server");
  const { address } = await child.call<{ address: string }>("start", overrides);
  const client = new ProcworkerClient(address);
  const closers: (() => void)[] = [];
  return {
    child,
    client,
    address,
    newClient() {
      const c = new ProcworkerClient(address);
      closers.push(() => c.close());
      return c;
    },
    rawClient() {
      const c = rawClient(address);
      closers.push(() => c.close());
      return c;
    },
    cpu: () => child.call<CpuSample>("cpu"),
    async close() {
      client.close();
      closers.forEach((close) => close());
      await child.close();
    },
  };
}

const SERVICE = "/procworker.v1.ProcessWorkerService";
const bytes = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };
const rawMethod = (name: string, responseStream: boolean) => ({
  path: `${SERVICE}/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: bytes.serialize,
  requestDeserialize: bytes.deserialize,
  responseSerialize: bytes.serialize,
  responseDeserialize: bytes.deserialize,
});
const rawDefinition: ServiceDefinition = {
  Await: rawMethod("Await", false),
  Compute: rawMethod("Compute", true),
  Subscribe: rawMethod("Subscribe", true),
};
const RawCtor = makeGenericClientConstructor(rawDefinition, "RawProcworker");

/** Await, Compute and Subscribe with responses left as bytes. */
export interface RawClient {
  await(request: AwaitRequest): Promise<Buffer>;
  compute(request: ComputeRequest): ClientReadableStream<Buffer>;
  subscribe(request: SubscribeRequest): ClientReadableStream<Buffer>;
  close(): void;
}

export function rawClient(address: string): RawClient {
  const client = new RawCtor(address, credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
  }) as Client & Record<string, Function>;
  const call = (name: string, payload: Buffer) => (client[name] as Function).call(client, payload);
  return {
    await: (request) => {
      const payload = Buffer.from(AwaitRequest.encode(request).finish());
      return new Promise((resolve, reject) =>
        (client["Await"] as Function).call(client, payload, (err: Error | null, res: Buffer) =>
          err ? reject(err) : resolve(res),
        ),
      );
    },
    compute: (request) =>
      call("Compute", Buffer.from(ComputeRequest.encode(request).finish())) as ClientReadableStream<Buffer>,
    subscribe: (request) =>
      call("Subscribe", Buffer.from(SubscribeRequest.encode(request).finish())) as ClientReadableStream<Buffer>,
    close: () => client.close(),
  };
}

/** A wire message. */
export function wire(tags: Record<string, string>, data: Buffer = Buffer.alloc(0)): Message {
  return { tags: new Map(Object.entries(tags)), data };
}

/** Spawns a counter@1.0 process (distinct `name`s give distinct processes). */
export async function spawnCounter(client: ProcworkerClient, name: string): Promise<string> {
  const { processId } = await client.spawn({
    process: wire({ "Execution-Device": "counter@1.0", Bench: name }),
    module: Buffer.alloc(0),
  });
  return processId;
}

/** Spawns a wasm@1.0 process of `module`. */
export async function spawnWasm(client: ProcworkerClient, module: Uint8Array, name: string): Promise<string> {
  const { processId } = await client.spawn(
    { process: wire({ "Execution-Device": "wasm@1.0", Bench: name }), module: Buffer.from(module) },
    { timeoutMs: 30_000 },
  );
  return processId;
}

/** Schedules `count` counter messages (Amount 1) in requests of at most `chunk`. */
export async function scheduleMany(
  client: ProcworkerClient,
  processId: string,
  count: number,
  chunk = 1000,
): Promise<bigint> {
  let last = 0n;
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    const res = await client.schedule({ processId, messages: Array.from({ length: n }, () => wire({ Amount: "1" })) });
    last = res.assignments.at(-1)?.slot ?? last;
  }
  return last;
}

/** Schedules one message; returns its slot. */
export async function scheduleOne(
  client: ProcworkerClient,
  processId: string,
  tags: Record<string, string> = { Amount: "1" },
): Promise<bigint> {
  const res = await client.schedule({ processId, messages: [wire(tags)] });
  const slot = res.assignments[0]?.slot;
  if (slot === undefined) throw new Error("Schedule returned no assignment");
  return slot;
}
