/**
 * Sending one fuzz input: its bytes as the request of its method, through a raw grpc-js
 * client (identity serializers: nothing is checked or encoded on the way out), and the
 * status the call ended with. Every call ends: at the latest by its own deadline, enforced by
 * the client.
 */
import { Client, credentials, Metadata, status, type StatusObject } from "@grpc/grpc-js";
import type { FuzzInput } from "./inputs.js";

/** How a call ended. */
export interface CallOutcome {
  code: status;
  details: string;
  /** Responses received. */
  responses: number;
  /** Wall time of the call. */
  ms: number;
}

const identity = (bytes: Buffer): Buffer => bytes;

/** A raw client with its own HTTP/2 connection (a local subchannel pool), so that the cancels
 * and deadlines of many calls are spread over several connections, as the README advises. */
export function rawClient(address: string): Client {
  return new Client(address, credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
  });
}

/** Makes the call `input` describes on `client`; resolves with its outcome, never rejects. */
export function callOnce(client: Client, input: FuzzInput): Promise<CallOutcome> {
  const started = performance.now();
  const options = { deadline: Date.now() + input.deadlineMs };
  const request = Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength);
  const { path, shape } = input.method;
  return new Promise((resolve) => {
    let responses = 0;
    const finish = (s: Pick<StatusObject, "code" | "details">): void =>
      resolve({ code: s.code, details: s.details, responses, ms: performance.now() - started });
    if (shape === "unary") {
      client.makeUnaryRequest(path, identity, identity, request, new Metadata(), options, (error) => {
        if (error === null) responses = 1;
        finish(error ?? { code: status.OK, details: "" });
      });
      return;
    }
    const duplex =
      shape === "bidi" ? client.makeBidiStreamRequest(path, identity, identity, new Metadata(), options) : undefined;
    const call = duplex ?? client.makeServerStreamRequest(path, identity, identity, request, new Metadata(), options);
    call.on("data", () => {
      responses++;
      if (responses === input.cancelAfter) call.cancel();
    });
    call.on("error", () => undefined); // the status event carries it
    call.on("status", finish);
    if (input.cancelAfter === 0) call.cancel();
    if (duplex !== undefined) {
      duplex.write(request);
      duplex.end();
    }
  });
}
