/**
 * Running the wire fuzzer against a live server: the processes it aims at, the run itself
 * (inputs sent with bounded concurrency over several connections, every outcome tallied), and
 * the checks after it — health still SERVING, and a known-good call still right. Shared by
 * the short run in `npm test` (test/integration/fuzz.test.ts) and `npm run fuzz`.
 */
import type { Client } from "@grpc/grpc-js";
import { ProcworkerClient } from "../../../src/service/client.js";
import {
  HealthCheckRequest,
  HealthCheckResponse,
  healthCheckResponse_ServingStatusToJSON,
} from "../../../src/generated/grpc/health/v1/health.js";
import { callOnce, rawClient } from "./call.js";
import type { FuzzContext, FuzzInput } from "./inputs.js";
import { Tally } from "./tally.js";

const message = (tags: Record<string, string>) => ({ tags: new Map(Object.entries(tags)), data: Buffer.alloc(0) });

/** The processes a run aims at (two counters, two kv stores, each with a few slots), and a
 * sentinel counter the inputs never name, for the known-good call after the run. */
export async function prepareTargets(
  client: ProcworkerClient,
  kvModule: Uint8Array,
): Promise<{ counters: string[]; kvs: string[]; sentinel: string }> {
  const spawn = async (tags: Record<string, string>, module = Buffer.alloc(0)) =>
    (await client.spawn({ process: message(tags), module })).processId;
  const counters = [
    await spawn({ "Execution-Device": "counter@1.0", Target: "a" }),
    await spawn({ "Execution-Device": "counter@1.0", Target: "b", Initial: "7" }),
  ];
  const kvs = [
    await spawn({ "Execution-Device": "wasm@1.0", Target: "c" }, Buffer.from(kvModule)),
    await spawn({ "Execution-Device": "wasm@1.0", Target: "d" }, Buffer.from(kvModule)),
  ];
  for (const id of counters) await client.schedule({ processId: id, messages: [message({ Amount: "2" })] });
  for (const id of kvs) {
    await client.schedule({ processId: id, messages: [message({ Action: "Set", Key: "k", Value: "v" })] });
  }
  const sentinel = await spawn({ "Execution-Device": "counter@1.0", Target: "sentinel", Initial: "100" });
  return { counters, kvs, sentinel };
}

/** Runs `inputs` with `concurrency` calls in flight over `connections` connections; resolves
 * with the tally once every call has ended. `onProgress` is told the count now and then. */
export async function runFuzz(opts: {
  address: string;
  inputs: Iterable<FuzzInput>;
  concurrency: number;
  connections: number;
  onProgress?: (done: number) => void | Promise<void>;
  progressEvery?: number;
}): Promise<Tally> {
  const clients: Client[] = Array.from({ length: opts.connections }, () => rawClient(opts.address));
  const tally = new Tally();
  const iterator = opts.inputs[Symbol.iterator]();
  let sent = 0;
  const lane = async (): Promise<void> => {
    for (;;) {
      const next = iterator.next();
      if (next.done === true) return;
      const client = clients[sent++ % clients.length] as Client;
      tally.record(next.value, await callOnce(client, next.value));
      if (opts.onProgress !== undefined && tally.calls % (opts.progressEvery ?? 1000) === 0) {
        await opts.onProgress(tally.calls);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, lane));
  } finally {
    clients.forEach((c) => c.close());
  }
  return tally;
}

/** What the server answers after a run: health (for "" and the API) and the known-good call. */
export interface AfterRun {
  health: string[];
  /** The sentinel's total after one more Amount 1: its previous total + 1 if all is well. */
  sentinelTotal: string | undefined;
}

/** Asks health and makes the known-good call: one more message to the sentinel, awaited. */
export async function afterRun(address: string, sentinel: string): Promise<AfterRun> {
  const raw = rawClient(address);
  const client = new ProcworkerClient(address);
  try {
    const health: string[] = [];
    for (const service of ["", "procworker.v1.ProcessWorkerService"]) {
      const bytes = await new Promise<Buffer>((resolve, reject) =>
        raw.makeUnaryRequest(
          "/grpc.health.v1.Health/Check",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(HealthCheckRequest.encode({ service }).finish()),
          { deadline: Date.now() + 10_000 },
          (error, value) => (error || value === undefined ? reject(error ?? new Error("no answer")) : resolve(value)),
        ),
      );
      health.push(healthCheckResponse_ServingStatusToJSON(HealthCheckResponse.decode(bytes).status));
    }
    const [assignment] = (
      await client.schedule({ processId: sentinel, messages: [message({ Amount: "1" })] }, { timeoutMs: 10_000 })
    ).assignments;
    const result = await client.await({ processId: sentinel, slot: assignment?.slot }, { timeoutMs: 10_000 });
    return { health, sentinelTotal: result.result?.output?.tags.get("Total") };
  } finally {
    raw.close();
    client.close();
  }
}

/** The inputs' context for a server with the given limits and targets. */
export function fuzzContext(
  targets: { counters: string[]; kvs: string[] },
  kvModule: Uint8Array,
  limits: { maxMessageBytes: number; maxScheduleMessages: number; maxRequestTags: number },
  noWaitDeadlineMs = 30_000,
): FuzzContext {
  return { ...targets, kvModule, ...limits, noWaitDeadlineMs };
}
