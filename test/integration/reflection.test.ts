/**
 * Server reflection against a real grpc-js server on 127.0.0.1:0 that serves only
 * reflection, health and a stub ProcessWorkerService. Proves that a third-party client
 * can call the API from reflected descriptors alone, and that the descriptors served are
 * byte-identical to `buf build` output (what grpcurl needs for map fields).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { GrpcReflection } from "grpc-js-reflection-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ServerReflectionClient as ReflectionV1Client,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../../src/generated/grpc/reflection/v1/reflection.js";
import { ServerReflectionClient as ReflectionV1AlphaClient } from "../../src/generated/grpc/reflection/v1alpha/reflection.js";
import {
  ProcessWorkerServiceService,
  type ProcessWorkerServiceServer,
  type SpawnRequest,
} from "../../src/generated/procworker/v1/process_worker_service.js";
import { descriptorSetPath, loadDescriptorSet, splitDescriptorSet } from "../../src/service/descriptor-set.js";
import { addHealth } from "../../src/service/health.js";
import { addReflection } from "../../src/service/reflection.js";

const ROOT = join(import.meta.dirname, "..", "..");
const STUB_PROCESS_ID = "stub-process-id-000000000000000000000000000";
const EXPECTED_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "procworker.v1.ProcessWorkerService",
];

let server: grpc.Server;
let address: string;
/** Every Spawn request the stub received, so tests can see what crossed the wire. */
const spawned: SpawnRequest[] = [];
/** `buf build` output, built fresh for this run: file name → FileDescriptorProto bytes. */
const bufFiles = new Map<string, Uint8Array>();
/** Every client a test opened; all are closed after the run. */
const clients: grpc.Client[] = [];
const rawClients: { v1?: ReflectionV1Client; v1alpha?: ReflectionV1AlphaClient } = {};

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "procworker-buf-"));
  try {
    const out = join(dir, "set.binpb");
    execFileSync(join(ROOT, "node_modules", ".bin", "buf"), ["build", "-o", out], { cwd: ROOT });
    const fresh = new Uint8Array(readFileSync(out));
    // The committed set the server loads must be exactly what buf builds from the protos.
    expect(Buffer.compare(fresh, readFileSync(descriptorSetPath()))).toBe(0);
    for (const bytes of splitDescriptorSet(fresh)) {
      bufFiles.set(fromBinary(FileDescriptorProtoSchema, bytes).name, bytes);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  server = new grpc.Server();
  const stub: Partial<ProcessWorkerServiceServer> = {
    spawn: (call, callback) => {
      spawned.push(call.request);
      callback(null, { processId: STUB_PROCESS_ID });
    },
  };
  // Methods missing from `stub` answer UNIMPLEMENTED (grpc-js's default handler).
  server.addService(ProcessWorkerServiceService, stub as grpc.UntypedServiceImplementation);
  addReflection(server, loadDescriptorSet());
  addHealth(server).setStatus("SERVING");
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  address = `127.0.0.1:${port}`;
  rawClients.v1 = new ReflectionV1Client(address, grpc.credentials.createInsecure());
  rawClients.v1alpha = new ReflectionV1AlphaClient(address, grpc.credentials.createInsecure());
  clients.push(rawClients.v1, rawClients.v1alpha);
});

afterAll(async () => {
  for (const client of clients) client.close();
  if (server !== undefined) await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

/** Sends `requests` on one ServerReflectionInfo stream and collects every response. */
function exchange(
  client: ReflectionV1Client | ReflectionV1AlphaClient,
  requests: ServerReflectionRequest[],
): Promise<ServerReflectionResponse[]> {
  return new Promise((resolve, reject) => {
    const call = client.serverReflectionInfo();
    const responses: ServerReflectionResponse[] = [];
    call.on("data", (response: ServerReflectionResponse) => responses.push(response));
    call.on("error", reject);
    call.on("end", () => resolve(responses));
    for (const request of requests) call.write(request);
    call.end();
  });
}

/** The FileDescriptorProto bytes of a file response, or a failure naming what came instead. */
function filesOf(response: ServerReflectionResponse | undefined): Uint8Array[] {
  if (response?.messageResponse?.$case !== "fileDescriptorResponse") {
    throw new Error(`expected a file descriptor response, got ${JSON.stringify(response?.messageResponse)}`);
  }
  return response.messageResponse.value.fileDescriptorProto;
}

function nameOf(bytes: Uint8Array): string {
  return fromBinary(FileDescriptorProtoSchema, bytes).name;
}

/** The expected answer: each served file equals buf's entry of the same name, byte for byte. */
function expectBufBytes(files: Uint8Array[], names: string[]): void {
  expect(files.map(nameOf)).toEqual(names);
  for (const file of files) {
    const expected = bufFiles.get(nameOf(file));
    expect(expected).toBeDefined();
    expect(Buffer.compare(Buffer.from(file), Buffer.from(expected ?? []))).toBe(0);
  }
}

/** The raw reflection client of `version`, built once the server is up. */
function raw(version: "v1" | "v1alpha"): ReflectionV1Client | ReflectionV1AlphaClient {
  const client = rawClients[version];
  if (client === undefined) throw new Error(`no ${version} client`);
  return client;
}

describe("third-party reflection client (grpc-js-reflection-client)", () => {
  for (const version of ["v1", "v1alpha"]) {
    it(`lists the API and health over ${version}`, async () => {
      const reflection = new GrpcReflection(address, grpc.credentials.createInsecure(), {}, version);
      try {
        const services = await reflection.listServices();
        expect(services).toContain("procworker.v1.ProcessWorkerService");
        expect(services).toContain("grpc.health.v1.Health");
      } finally {
        closeReflectionClient(reflection);
      }
    });
  }

  it("calls Spawn with a map-field request built only from reflected descriptors", async () => {
    const reflection = new GrpcReflection(address, grpc.credentials.createInsecure(), {}, "v1");
    try {
      const descriptor = await reflection.getDescriptorBySymbol("procworker.v1.ProcessWorkerService");
      const methods = await reflection.listMethods("procworker.v1.ProcessWorkerService");
      expect(methods.map((m) => m.name).sort()).toEqual([
        "Await",
        "Compute",
        "DryRun",
        "GetProcess",
        "Group",
        "ListWorkers",
        "ReadSchedule",
        "Schedule",
        "Spawn",
        "Stop",
        "Subscribe",
      ]);
      const pkg = descriptor.getPackageObject({ keepCase: true, longs: String, enums: String, defaults: true });
      const v1 = (pkg["procworker"] as grpc.GrpcObject)["v1"] as grpc.GrpcObject;
      const Service = v1["ProcessWorkerService"] as grpc.ServiceClientConstructor;
      const client = new Service(address, grpc.credentials.createInsecure());
      clients.push(client);

      const before = spawned.length;
      const response = await new Promise<{ process_id: string }>((resolve, reject) =>
        (client["Spawn"] as Function)(
          { process: { tags: entries({ "Execution-Device": "counter@1.0", Initial: "5" }), data: Buffer.from("hi") } },
          (err: grpc.ServiceError | null, res: { process_id: string }) => (err ? reject(err) : resolve(res)),
        ),
      );
      expect(response.process_id).toBe(STUB_PROCESS_ID);
      expect(spawned.length).toBe(before + 1);
      const received = spawned[spawned.length - 1];
      expect(received?.process?.tags).toEqual(
        new Map([
          ["Execution-Device", "counter@1.0"],
          ["Initial", "5"],
        ]),
      );
      expect(Buffer.from(received?.process?.data ?? []).toString()).toBe("hi");
    } finally {
      closeReflectionClient(reflection);
    }
  });
});

describe("raw reflection client (generated stubs)", () => {
  for (const version of ["v1", "v1alpha"] as const) {
    it(`${version}: file_by_filename serves buf's bytes with transitive imports`, async () => {
      const [service, types] = await exchange(raw(version), [
        { host: "", messageRequest: { $case: "fileByFilename", value: "procworker/v1/process_worker_service.proto" } },
        { host: "", messageRequest: { $case: "fileByFilename", value: "procworker/v1/types.proto" } },
      ]);
      expectBufBytes(filesOf(service), [
        "procworker/v1/process_worker_service.proto",
        "procworker/v1/types.proto",
        "google/protobuf/timestamp.proto",
      ]);
      expectBufBytes(filesOf(types), ["procworker/v1/types.proto", "google/protobuf/timestamp.proto"]);
    });

    it(`${version}: file_containing_symbol serves buf's bytes for services, methods and messages`, async () => {
      const symbols: Array<[string, string[]]> = [
        [
          "procworker.v1.ProcessWorkerService",
          [
            "procworker/v1/process_worker_service.proto",
            "procworker/v1/types.proto",
            "google/protobuf/timestamp.proto",
          ],
        ],
        [
          "procworker.v1.ProcessWorkerService.Spawn",
          [
            "procworker/v1/process_worker_service.proto",
            "procworker/v1/types.proto",
            "google/protobuf/timestamp.proto",
          ],
        ],
        [
          "procworker.v1.SpawnRequest",
          [
            "procworker/v1/process_worker_service.proto",
            "procworker/v1/types.proto",
            "google/protobuf/timestamp.proto",
          ],
        ],
        ["procworker.v1.Message", ["procworker/v1/types.proto", "google/protobuf/timestamp.proto"]],
        ["procworker.v1.Message.TagsEntry", ["procworker/v1/types.proto", "google/protobuf/timestamp.proto"]],
        ["procworker.v1.GroupKind", ["procworker/v1/types.proto", "google/protobuf/timestamp.proto"]],
        ["grpc.health.v1.Health", ["grpc/health/v1/health.proto"]],
        [`grpc.reflection.${version}.ServerReflection`, [`grpc/reflection/${version}/reflection.proto`]],
      ];
      const responses = await exchange(
        raw(version),
        symbols.map(([symbol]) => ({ host: "", messageRequest: { $case: "fileContainingSymbol", value: symbol } })),
      );
      expect(responses).toHaveLength(symbols.length);
      symbols.forEach(([, names], i) => expectBufBytes(filesOf(responses[i]), names));
    });

    it(`${version}: the served Message keeps buf's map entry (what grpcurl validates)`, async () => {
      const [response] = await exchange(raw(version), [
        { host: "", messageRequest: { $case: "fileContainingSymbol", value: "procworker.v1.Message" } },
      ]);
      const [bytes] = filesOf(response);
      const file = fromBinary(FileDescriptorProtoSchema, bytes ?? new Uint8Array());
      const message = file.messageType.find((m) => m.name === "Message");
      const tags = message?.field.find((f) => f.name === "tags");
      const entry = message?.nestedType.find((m) => m.name === "TagsEntry");
      expect(tags?.typeName).toBe(".procworker.v1.Message.TagsEntry");
      expect(entry?.options?.mapEntry).toBe(true);
      // Source info is kept, so `grpcurl describe` shows the doc comments.
      expect(file.sourceCodeInfo?.location.some((l) => l.leadingComments.includes("A message:"))).toBe(true);
    });

    it(`${version}: list_services returns exactly the served services`, async () => {
      const [response] = await exchange(raw(version), [
        { host: "", messageRequest: { $case: "listServices", value: "*" } },
      ]);
      expect(response?.messageResponse?.$case).toBe("listServicesResponse");
      const names =
        response?.messageResponse?.$case === "listServicesResponse"
          ? response.messageResponse.value.service.map((s) => s.name)
          : [];
      expect(names).toEqual(EXPECTED_SERVICES);
    });

    it(`${version}: unknown names get a NOT_FOUND error_response and the stream goes on`, async () => {
      const responses = await exchange(raw(version), [
        { host: "h", messageRequest: { $case: "fileContainingSymbol", value: "procworker.v1.Nope" } },
        { host: "", messageRequest: { $case: "fileByFilename", value: "nope.proto" } },
        {
          host: "",
          messageRequest: {
            $case: "fileContainingExtension",
            value: { containingType: "procworker.v1.Message", extensionNumber: 100 },
          },
        },
        { host: "", messageRequest: { $case: "allExtensionNumbersOfType", value: "procworker.v1.Nope" } },
        { host: "", messageRequest: { $case: "fileByFilename", value: "procworker/v1/types.proto" } },
      ]);
      expect(responses).toHaveLength(5);
      for (const response of responses.slice(0, 4)) {
        expect(response.messageResponse?.$case).toBe("errorResponse");
        if (response.messageResponse?.$case === "errorResponse") {
          expect(response.messageResponse.value.errorCode).toBe(grpc.status.NOT_FOUND);
        }
      }
      expect(responses[0]?.validHost).toBe("h");
      expect(responses[0]?.originalRequest?.messageRequest).toEqual({
        $case: "fileContainingSymbol",
        value: "procworker.v1.Nope",
      });
      expectBufBytes(filesOf(responses[4]), ["procworker/v1/types.proto", "google/protobuf/timestamp.proto"]);
    });

    it(`${version}: all_extension_numbers_of_type is empty for a known message`, async () => {
      const [response] = await exchange(raw(version), [
        { host: "", messageRequest: { $case: "allExtensionNumbersOfType", value: "procworker.v1.Message" } },
      ]);
      expect(response?.messageResponse).toEqual({
        $case: "allExtensionNumbersResponse",
        value: { baseTypeName: "procworker.v1.Message", extensionNumber: [] },
      });
    });
  }

  it("buf's own bytes load into proto-loader and call Spawn with a map field", async () => {
    const [response] = await exchange(raw("v1"), [
      { host: "", messageRequest: { $case: "fileContainingSymbol", value: "procworker.v1.ProcessWorkerService" } },
    ]);
    // Re-frame the served files as a FileDescriptorSet (field 1, length-delimited).
    const set = Buffer.concat(
      filesOf(response).map((file) => Buffer.concat([Buffer.from([0x0a]), varint(file.length), file])),
    );
    const definition = protoLoader.loadFileDescriptorSetFromBuffer(set, {
      keepCase: true,
      longs: String,
      defaults: true,
    });
    const Service = grpc.loadPackageDefinition(definition)["procworker"] as grpc.GrpcObject;
    const Ctor = (Service["v1"] as grpc.GrpcObject)["ProcessWorkerService"] as grpc.ServiceClientConstructor;
    const client = new Ctor(address, grpc.credentials.createInsecure());
    clients.push(client);
    const response2 = await new Promise<{ process_id: string }>((resolve, reject) =>
      (client["Spawn"] as Function)(
        { process: { tags: entries({ A: "1" }) } },
        (err: Error | null, res: { process_id: string }) => (err ? reject(err) : resolve(res)),
      ),
    );
    expect(response2.process_id).toBe(STUB_PROCESS_ID);
    expect(spawned[spawned.length - 1]?.process?.tags).toEqual(new Map([["A", "1"]]));
  });
});

describe("stub service", () => {
  it("answers unimplemented RPCs with UNIMPLEMENTED", async () => {
    const Client = grpc.makeGenericClientConstructor(ProcessWorkerServiceService, "ProcessWorkerService");
    const client = new Client(address, grpc.credentials.createInsecure());
    clients.push(client);
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      (client["listWorkers"] as Function)({}, (e: grpc.ServiceError | null) => resolve(e)),
    );
    expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
  });
});

/**
 * A map field as protobufjs clients built from descriptors must write it. protobufjs's
 * `Root.fromDescriptor` (behind proto-loader's `loadFileDescriptorSetFromBuffer` and
 * grpc-js-reflection-client) does not turn map-entry types back into map fields, so `tags`
 * is a repeated `TagsEntry {key, value}` to it. The wire bytes are the same as a map's,
 * which is why the server still receives a proper map.
 */
function entries(map: Record<string, string>): Array<{ key: string; value: string }> {
  return Object.entries(map).map(([key, value]) => ({ key, value }));
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/** grpc-js-reflection-client has no close(); its grpc-js client is a private field. */
function closeReflectionClient(reflection: GrpcReflection): void {
  const client: unknown = Reflect.get(reflection, "client");
  if (client instanceof grpc.Client) client.close();
}
