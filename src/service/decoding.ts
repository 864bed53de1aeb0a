/**
 * Request bytes that do not decode. grpc-js answers a deserializer that throws with INTERNAL
 * ("Error deserializing request"), which the README reserves for bugs; so every service
 * procworker serves gets deserializers that never throw: undecodable bytes become an
 * `UndecodableRequest`, which the handler answers with INVALID_ARGUMENT through the one status
 * mapping.
 */
import type { ServiceDefinition } from "@grpc/grpc-js";
import { excerpt, invalidArgument } from "../core/errors.js";

/** What a handler receives instead of a request whose bytes did not decode. */
export class UndecodableRequest {
  constructor(readonly reason: string) {}
}

/** `definition` with every request deserializer made total (see UndecodableRequest). */
export function withTolerantDecoding<D extends ServiceDefinition>(definition: D): D {
  const tolerant: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    tolerant[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          return new UndecodableRequest(error instanceof Error ? error.message : String(error));
        }
      },
    };
  }
  return tolerant as D;
}

/** The request itself; throws INVALID_ARGUMENT when its bytes did not decode. */
export function decoded<T>(request: T): T {
  if (request instanceof UndecodableRequest) {
    throw invalidArgument(`the request's bytes are not a valid message (${excerpt(request.reason)})`);
  }
  return request;
}
