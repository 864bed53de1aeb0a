/**
 * A result too large for one response (its output is bigger than `max_message_bytes`): the
 * streams that would carry it end with RESOURCE_EXHAUSTED, whatever their shape, after every
 * result before it; the result itself stays stored, and the server goes on serving.
 */
import { status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import type { Device, DeviceInstance } from "../../src/device/device.js";
import type { ComputeResponse, SubscribeResponse } from "../../src/generated/procworker/v1/process_worker_service.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { msg } from "../support/wire.js";

const MAX_MESSAGE_BYTES = 64 * 1024;

/** echo@test: each slot's output is its message's data twice over. */
const echoTwice: Device = {
  name: "echo@test",
  needsModule: false,
  validate: async () => undefined,
  instantiate: async (): Promise<DeviceInstance> => {
    const outcome = (data: Uint8Array) => ({ output: { tags: {}, data: Buffer.concat([data, data]) } });
    return {
      run: async (steps) => steps.map((step) => outcome(step.message.data)),
      dryRun: async (step) => outcome(step.message.data),
      exportState: async () => new Uint8Array(),
      importState: async () => undefined,
      stateBytes: () => 0,
      close: async () => undefined,
    };
  },
  close: async () => undefined,
};

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** The slots a stream delivered (either shape) and the status it ended with. */
function drain(stream: ClientReadableStream<ComputeResponse | SubscribeResponse>) {
  const slots: bigint[] = [];
  return new Promise<{ slots: bigint[]; code: status }>((resolve) => {
    stream.on("data", (r: ComputeResponse) => {
      for (const result of r.result ? [r.result] : r.results) slots.push(result.slot);
    });
    stream.on("error", (e: ServiceError) => resolve({ slots, code: e.code }));
    stream.on("end", () => resolve({ slots, code: status.OK }));
  });
}

describe("a result larger than the largest message", () => {
  it.each([0, 64])(
    "ends Compute and Subscribe (%s results a response) with RESOURCE_EXHAUSTED after the slots before it",
    async (perResponse) => {
      s = await startTestServer({ maxMessageBytes: MAX_MESSAGE_BYTES }, { devices: [echoTwice] });
      const { processId } = await s.client.spawn({
        process: msg({ "Execution-Device": "echo@test" }),
        module: Buffer.alloc(0),
      });
      const small = msg({}, "s");
      const big = msg({}, "b".repeat(40 * 1024)); // fits a request; its output (80 KiB) fits no response
      await s.client.schedule({ processId, messages: [small, small, big, small] });

      const compute = await drain(s.client.compute({ processId, maxResultsPerResponse: perResponse }));
      expect(compute).toEqual({ slots: [0n, 1n, 2n], code: status.RESOURCE_EXHAUSTED });
      const subscribe = await drain(
        s.client.subscribe({ processId, fromSlot: 0n, maxResultsPerResponse: perResponse }),
      );
      expect(subscribe).toEqual({ slots: [0n, 1n, 2n], code: status.RESOURCE_EXHAUSTED });

      // The result was computed and stored: the slot after it is there, and so is it, by Await.
      expect((await s.client.await({ processId, slot: 4n })).result?.slot).toBe(4n);
      await expect(s.client.await({ processId, slot: 3n })).rejects.toMatchObject({
        code: status.RESOURCE_EXHAUSTED,
      });
      const after = await drain(s.client.compute({ processId, slot: 2n, maxResultsPerResponse: perResponse }));
      expect(after.code).toBe(status.OK);
    },
  );
});
