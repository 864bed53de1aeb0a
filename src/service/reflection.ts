/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so `grpcurl list/describe`
 * and other reflection clients work without proto files. It answers from buf's
 * descriptor set and sends each file's bytes exactly as buf wrote them (see
 * descriptor-set.ts for why re-encoding is not an option).
 */
import type * as grpc from "@grpc/grpc-js";
import {
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionService as ServerReflectionV1Service,
} from "../generated/grpc/reflection/v1/reflection.js";
import { ServerReflectionService as ServerReflectionV1AlphaService } from "../generated/grpc/reflection/v1alpha/reflection.js";
import { RefusedRequest, withTolerantDecoding } from "./decoding.js";
import { type DescriptorIndex, fileWithDependencies, indexDescriptorSet } from "./descriptor-set.js";

/** grpc::StatusCode values used in `error_response` (a reflection field, not a call status). */
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;

/** Options of `addReflection`. */
export interface ReflectionOptions {
  /**
   * The services `list_services` reports. Default: every service the descriptor set
   * declares (for procworker: the API, health and both reflection versions). Each must be
   * declared in the set.
   */
  services?: readonly string[];
}

/**
 * Adds grpc.reflection.v1.ServerReflection and grpc.reflection.v1alpha.ServerReflection to
 * `server`, answering from `descriptorSet` (a serialized FileDescriptorSet, e.g. from
 * `loadDescriptorSet()`). File answers carry the file and its transitive imports, byte for
 * byte as in the set; unknown names get a NOT_FOUND `error_response` and the stream goes
 * on. Throws at once if the set is malformed or `options.services` names an unknown one.
 */
export function addReflection(server: grpc.Server, descriptorSet: Uint8Array, options: ReflectionOptions = {}): void {
  const index = indexDescriptorSet(descriptorSet);
  const services = [...(options.services ?? index.services)].sort();
  for (const service of services) {
    if (!index.services.includes(service))
      throw new Error(`reflection: service ${service} is not in the descriptor set`);
  }
  const handler = createReflectionHandler(index, services);
  server.addService(withTolerantDecoding(ServerReflectionV1Service), { serverReflectionInfo: handler });
  server.addService(withTolerantDecoding(ServerReflectionV1AlphaService), { serverReflectionInfo: handler });
}

/**
 * The ServerReflectionInfo handler: one response per request, in order, until the client
 * ends its side. Works for v1 and v1alpha, whose messages are identical on the wire.
 */
function createReflectionHandler(
  index: DescriptorIndex,
  services: readonly string[],
): grpc.handleBidiStreamingCall<ServerReflectionRequest, ServerReflectionResponse> {
  return (call) => {
    call.on("data", (request: ServerReflectionRequest | RefusedRequest) => {
      if (call.cancelled) return;
      if (request instanceof RefusedRequest) call.write(undecodable());
      else call.write(answerReflectionRequest(index, services, request));
    });
    call.on("end", () => call.end());
    // A client that cancels ends the stream with an error; nothing is left to clean up.
    call.on("error", () => {});
  };
}

/** The answer to request bytes that did not decode: an INVALID_ARGUMENT `error_response`
 * (the stream goes on, as for any request it cannot answer). */
function undecodable(): ServerReflectionResponse {
  return {
    validHost: "",
    originalRequest: undefined,
    messageResponse: {
      $case: "errorResponse",
      value: { errorCode: INVALID_ARGUMENT, errorMessage: "the request's bytes are not a valid message" },
    },
  };
}

/** The response to one reflection request; pure, so unit tests can call it directly. */
export function answerReflectionRequest(
  index: DescriptorIndex,
  services: readonly string[],
  request: ServerReflectionRequest,
): ServerReflectionResponse {
  const respond = (messageResponse: ServerReflectionResponse["messageResponse"]): ServerReflectionResponse => ({
    validHost: request.host,
    originalRequest: request,
    messageResponse,
  });
  const error = (errorCode: number, errorMessage: string): ServerReflectionResponse =>
    respond({ $case: "errorResponse", value: { errorCode, errorMessage } });
  const files = (fileName: string | undefined, what: string): ServerReflectionResponse => {
    const found = fileName === undefined ? undefined : fileWithDependencies(index, fileName);
    if (found === undefined) return error(NOT_FOUND, `${what} not found`);
    const fileDescriptorProto = found.map((bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return respond({ $case: "fileDescriptorResponse", value: { fileDescriptorProto } });
  };

  const req = request.messageRequest;
  switch (req?.$case) {
    case "listServices":
      return respond({ $case: "listServicesResponse", value: { service: services.map((name) => ({ name })) } });
    case "fileByFilename":
      return files(req.value, `file ${req.value}`);
    case "fileContainingSymbol": {
      const symbol = req.value.replace(/^\./, "");
      return files(index.symbols.get(symbol), `symbol ${symbol}`);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = req.value;
      const type = containingType.replace(/^\./, "");
      return files(index.extensions.get(type)?.get(extensionNumber), `extension ${extensionNumber} of ${type}`);
    }
    case "allExtensionNumbersOfType": {
      const type = req.value.replace(/^\./, "");
      if (!index.messages.has(type)) return error(NOT_FOUND, `message type ${type} not found`);
      const numbers = [...(index.extensions.get(type)?.keys() ?? [])].sort((a, b) => a - b);
      return respond({ $case: "allExtensionNumbersResponse", value: { baseTypeName: type, extensionNumber: numbers } });
    }
    case undefined:
      return error(INVALID_ARGUMENT, "empty reflection request: set one of the message_request fields");
  }
}
