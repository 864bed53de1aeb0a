import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  credentials,
  makeGenericClientConstructor,
  type Client,
  type ClientReadableStream,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { ComputeRequest, ComputeResponse } from "../../src/generated/procworker/v1/process_worker_service.js";
import { openLmdbStore } from "../../src/store/lmdb-store.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg } from "../support/wire.js";

let s: TestServer | undefined;
let raw: Client | undefined;
afterEach(async () => {
  raw?.close();
  raw = undefined;
  await s?.close();
  s = undefined;
});

const SLOTS = 3000;

/** A client whose Compute responses stay the bytes the server sent. */
const RawClient = makeGenericClientConstructor(
  {
    Compute: {
      path: "/procworker.v1.ProcessWorkerService/Compute",
      requestStream: false,
      responseStream: true,
      requestSerialize: (b: Buffer): Buffer => b,
      requestDeserialize: (b: Buffer): Buffer => b,
      responseSerialize: (b: Buffer): Buffer => b,
      responseDeserialize: (b: Buffer): Buffer => b,
    },
  } satisfies ServiceDefinition,
  "RawCompute",
);

/**
 * A Compute stream of SLOTS slots on a server with `streamWindowBytes`, whose client reads
 * the first response and then nothing until every slot is computed (the server's stream
 * falls behind). Returns the bytes of every response and the store's result reads.
 */
async function lagging(streamWindowBytes: number): Promise<{ responses: Buffer[]; reads: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), "procworker-test-"));
  const store = await openLmdbStore({ path: dataDir });
  // Result reads in either form (gRPC streams read them left encoded).
  let reads = 0;
  const readResults = store.readResults.bind(store);
  store.readResults = (...args) => {
    reads++;
    return readResults(...args);
  };
  const readEncodedResults = store.readEncodedResults.bind(store);
  store.readEncodedResults = (...args) => {
    reads++;
    return readEncodedResults(...args);
  };
  s = await startTestServer({ subscriberBuffer: 64, streamWindowBytes }, { dataDir, store });
  const { processId } = await s.client.spawn({
    process: msg({ "Execution-Device": "counter@1.0" }),
    module: Buffer.alloc(0),
  });
  for (let i = 0; i < SLOTS / 500; i++) {
    await s.client.schedule({ processId, messages: Array.from({ length: 500 }, () => msg({ Amount: "1" })) });
  }
  raw = new RawClient(s.address, credentials.createInsecure());
  const request = Buffer.from(ComputeRequest.encode({ processId }).finish());
  const stream = (raw as unknown as Record<string, (r: Buffer) => ClientReadableStream<Buffer>>)["Compute"]!.call(
    raw,
    request,
  );
  const responses: Buffer[] = [];
  const first = new Promise<void>((resolve) => stream.once("data", () => resolve()));
  const ended = new Promise<void>((resolve, reject) => {
    stream.on("data", (bytes: Buffer) => responses.push(bytes));
    stream.on("error", reject);
    stream.on("end", resolve);
  });
  await first;
  stream.pause();
  await s.client.await({ processId, slot: BigInt(SLOTS) });
  stream.resume();
  await ended;
  await s.close();
  s = undefined;
  return { responses, reads };
}

describe("a Compute stream that fell behind its worker", () => {
  it("sends the same bytes from the recent results as from the store, with fewer store reads", async () => {
    const fromStore = await lagging(0);
    const fromWindow = await lagging(32 * 1024 * 1024);
    expect(fromStore.responses).toHaveLength(SLOTS + 1);
    expect(fromStore.responses.map((b) => ComputeResponse.decode(b).result?.slot)).toEqual(
      Array.from({ length: SLOTS + 1 }, (_, i) => BigInt(i)),
    );
    expect(fromWindow.responses.map((b) => b.toString("hex"))).toEqual(
      fromStore.responses.map((b) => b.toString("hex")),
    );
    expect(fromWindow.reads).toBeLessThan(fromStore.reads);
  });
});
