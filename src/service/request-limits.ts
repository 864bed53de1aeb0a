/**
 * Bounds on what one request may make the main thread do. Bytes are bounded by
 * max_message_bytes (grpc-js enforces it), but bytes are not the cost: decoding allocates per
 * map entry and per message, and ids hash each message's sorted tags, so 4 MiB of empty
 * messages or tags would hold the event loop for seconds. These checks count a request's
 * messages and tags on the wire, before decoding, and stop counting at the limit.
 */
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { invalidArgument, ProcworkerError } from "../core/errors.js";
import { RefusedRequest } from "./decoding.js";

/** The limits (options max_schedule_messages and max_request_tags). */
export interface RequestLimits {
  /** Most messages one Schedule may carry. */
  maxScheduleMessages: number;
  /** Most tags one request may carry, over all its messages. */
  maxRequestTags: number;
}

/** Where a request type carries messages (procworker.v1.Message): the field numbers. A
 * Message's tags are its field 1 (a map: one entry per tag). */
const MESSAGE_FIELDS: Record<string, { field: number; repeated: boolean }> = {
  spawn: { field: 1, repeated: false }, // SpawnRequest.process
  schedule: { field: 2, repeated: true }, // ScheduleRequest.messages
  dryRun: { field: 2, repeated: false }, // DryRunRequest.message
};

/** The tags field of procworker.v1.Message. */
const TAGS_FIELD = 1;

/**
 * Counts the messages and tags in `bytes` (a request of the given method) and returns the
 * error for the first limit passed, if any. Bytes that do not parse are left to the decoder.
 */
export function checkRequestShape(
  method: string,
  bytes: Uint8Array,
  limits: RequestLimits,
): ProcworkerError | undefined {
  const shape = MESSAGE_FIELDS[method];
  if (shape === undefined) return undefined;
  let messages = 0;
  let tags = 0;
  try {
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field !== shape.field || wireType !== WireType.LengthDelimited) {
        reader.skip(wireType, field);
        continue;
      }
      messages++;
      if (shape.repeated && messages > limits.maxScheduleMessages) {
        return invalidArgument(
          `a Schedule carries at most ${limits.maxScheduleMessages} messages (max_schedule_messages); this one has more`,
        );
      }
      const message = new BinaryReader(reader.bytes());
      while (message.pos < message.len) {
        const [inner, innerType] = message.tag();
        message.skip(innerType, inner);
        if (inner === TAGS_FIELD && ++tags > limits.maxRequestTags) {
          return invalidArgument(
            `a request carries at most ${limits.maxRequestTags} tags over all its messages (max_request_tags); this one has more`,
          );
        }
      }
    }
  } catch {
    return undefined; // not protobuf: the decoder says so
  }
  return undefined;
}

/** `definition` whose Spawn, Schedule and DryRun deserializers first check `limits`: a
 * request past them reaches its handler as a RefusedRequest (INVALID_ARGUMENT), undecoded. */
export function withRequestLimits<D extends ServiceDefinition>(definition: D, limits: RequestLimits): D {
  const limited: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    limited[name] =
      MESSAGE_FIELDS[name] === undefined
        ? method
        : {
            ...method,
            requestDeserialize: (bytes: Buffer): unknown => {
              const refused = checkRequestShape(name, bytes, limits);
              return refused ? new RefusedRequest(refused) : method.requestDeserialize(bytes);
            },
          };
  }
  return limited as D;
}
