import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  descriptorSetPath,
  fileWithDependencies,
  indexDescriptorSet,
  loadDescriptorSet,
  splitDescriptorSet,
} from "../../../src/service/descriptor-set.js";
import { addReflection, answerReflectionRequest } from "../../../src/service/reflection.js";

const set = loadDescriptorSet();

/** Frames `files` as FileDescriptorSet field 1 entries (tag 0x0a, varint length, bytes). */
function frame(files: Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const file of files) {
    const len: number[] = [];
    let n = file.length;
    while (n > 0x7f) {
      len.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    len.push(n);
    parts.push(Buffer.from([0x0a, ...len]), Buffer.from(file));
  }
  return Buffer.concat(parts);
}

describe("descriptor set", () => {
  it("is found from the package root and holds the API, health and reflection files", () => {
    expect(descriptorSetPath().endsWith("src/descriptors/procworker.binpb")).toBe(true);
    const names = splitDescriptorSet(set).map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
    expect(names.sort()).toEqual([
      "google/protobuf/timestamp.proto",
      "grpc/health/v1/health.proto",
      "grpc/reflection/v1/reflection.proto",
      "grpc/reflection/v1alpha/reflection.proto",
      "procworker/v1/process_worker_service.proto",
      "procworker/v1/types.proto",
    ]);
  });

  it("splits into entries that re-frame to the exact original bytes", () => {
    expect(Buffer.compare(frame(splitDescriptorSet(set)), Buffer.from(set))).toBe(0);
  });

  it("skips fields other than `file` without losing the files", () => {
    const files = splitDescriptorSet(set);
    const withJunk = Buffer.concat([Buffer.from([0x10, 0x96, 0x01]), frame(files), Buffer.from([0x1a, 0x01, 0xff])]);
    expect(splitDescriptorSet(withJunk).map((f) => Buffer.from(f))).toEqual(files.map((f) => Buffer.from(f)));
  });

  it("indexes services, methods, nested messages, fields, enums and enum values", () => {
    const index = indexDescriptorSet(set);
    expect(index.services).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "procworker.v1.ProcessWorkerService",
    ]);
    const service = "procworker/v1/process_worker_service.proto";
    const types = "procworker/v1/types.proto";
    expect(index.symbols.get("procworker.v1.ProcessWorkerService")).toBe(service);
    expect(index.symbols.get("procworker.v1.ProcessWorkerService.Compute")).toBe(service);
    expect(index.symbols.get("procworker.v1.GroupRequest.slot")).toBe(service);
    expect(index.symbols.get("procworker.v1.Message")).toBe(types);
    expect(index.symbols.get("procworker.v1.Message.TagsEntry")).toBe(types);
    expect(index.symbols.get("procworker.v1.GroupKind")).toBe(types);
    expect(index.symbols.get("procworker.v1.GROUP_KIND_WORKER")).toBe(types);
    expect(index.symbols.get("grpc.health.v1.HealthCheckResponse.ServingStatus")).toBe("grpc/health/v1/health.proto");
    expect(index.messages.has("procworker.v1.WorkerInfo")).toBe(true);
    expect(index.symbols.has("procworker.v1.Nope")).toBe(false);
  });

  it("answers a file with its transitive imports, each once, the file first", () => {
    const index = indexDescriptorSet(set);
    const files = fileWithDependencies(index, "procworker/v1/process_worker_service.proto") ?? [];
    expect(files.map((f) => fromBinary(FileDescriptorProtoSchema, f).name)).toEqual([
      "procworker/v1/process_worker_service.proto",
      "procworker/v1/types.proto",
      "google/protobuf/timestamp.proto",
    ]);
    expect(fileWithDependencies(index, "nope.proto")).toBeUndefined();
  });

  it("refuses a set whose files import files it lacks", () => {
    const files = splitDescriptorSet(set).filter(
      (f) => fromBinary(FileDescriptorProtoSchema, f).name !== "procworker/v1/types.proto",
    );
    expect(() => indexDescriptorSet(frame(files))).toThrow(/imports procworker\/v1\/types.proto/);
  });
});

describe("reflection answers", () => {
  it("answers a request with no message_request with INVALID_ARGUMENT", () => {
    const response = answerReflectionRequest(indexDescriptorSet(set), [], { host: "", messageRequest: undefined });
    expect(response.messageResponse?.$case).toBe("errorResponse");
    if (response.messageResponse?.$case === "errorResponse") {
      expect(response.messageResponse.value.errorCode).toBe(grpc.status.INVALID_ARGUMENT);
    }
  });

  it("refuses to list a service the descriptor set does not declare", () => {
    const server = new grpc.Server();
    expect(() => addReflection(server, set, { services: ["no.such.Service"] })).toThrow(/no.such.Service/);
  });
});
