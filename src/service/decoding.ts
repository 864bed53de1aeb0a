/**
 * Requests refused before their handler runs: bytes that do not decode, or (request-limits.ts)
 * a request past a limit. grpc-js answers a deserializer that throws with INTERNAL ("Error
 * deserializing request"), which the README reserves for bugs; so every service procworker
 * serves gets deserializers that never throw. A refused request reaches its handler as a
 * `RefusedRequest`, which the handler answers (INVALID_ARGUMENT) through the one status
 * mapping.
 */
import type { ServiceDefinition } from "@grpc/grpc-js";
import { excerpt, invalidArgument, type ProcworkerError } from "../core/errors.js";

/** What a handler receives instead of a request it must refuse, with the error to answer. */
export class RefusedRequest {
  constructor(readonly error: ProcworkerError) {}
}

/** `definition` with every request deserializer made total: bytes that do not decode become
 * a RefusedRequest with INVALID_ARGUMENT. */
export function withTolerantDecoding<D extends ServiceDefinition>(definition: D): D {
  const tolerant: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    tolerant[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          return new RefusedRequest(
            invalidArgument(`the request's bytes are not a valid message (${excerpt(reason)})`),
          );
        }
      },
    };
  }
  return tolerant as D;
}

/** The request itself; throws the refusal's error for a RefusedRequest. */
export function decoded<T>(request: T): T {
  if (request instanceof RefusedRequest) throw request.error;
  return request;
}
