/**
 * The API's descriptor set: the `buf build` output committed at
 * `src/descriptors/procworker.binpb` (procworker.v1 plus the health and reflection protos,
 * with source info so `grpcurl describe` shows the doc comments).
 *
 * Reflection must serve each FileDescriptorProto exactly as buf wrote it: decoding and
 * re-encoding (as protobufjs does) rewrites map entries in a form grpcurl rejects. So the
 * set is split on the wire, and decoded copies are used only to index names.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";

/** Where the committed set lives, relative to the package root. */
export const DESCRIPTOR_SET_RELATIVE_PATH = join("src", "descriptors", "procworker.binpb");

/** One file of the set: its exact bytes as buf wrote them and what it declares. */
export interface DescriptorFile {
  /** The file's name, e.g. `procworker/v1/types.proto`. */
  name: string;
  /** The FileDescriptorProto's bytes, untouched. */
  bytes: Uint8Array;
  /** The names of the files it imports. */
  dependencies: string[];
}

/** An index of a descriptor set: files by name, declaring file by symbol, services. */
export interface DescriptorIndex {
  /** Every file of the set, by name. */
  files: ReadonlyMap<string, DescriptorFile>;
  /**
   * Fully-qualified names (no leading dot) of every service, method, message (nested
   * too), field, oneof, enum, enum value and extension, mapped to the declaring file.
   */
  symbols: ReadonlyMap<string, string>;
  /** Fully-qualified names of the message types, for extension queries. */
  messages: ReadonlySet<string>;
  /** Extensions by extended message type (no leading dot), then field number → declaring file. */
  extensions: ReadonlyMap<string, ReadonlyMap<number, string>>;
  /** Fully-qualified names of every service the set declares, sorted. */
  services: readonly string[];
}

/**
 * Finds the committed descriptor set by walking up from this module to the package root,
 * so it works both from `src/` (vitest, tsx) and from `dist/` (compiled). Throws if the set
 * is missing (run `npm run gen`).
 */
export function descriptorSetPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, DESCRIPTOR_SET_RELATIVE_PATH);
    if (existsSync(join(dir, "package.json")) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `descriptor set ${DESCRIPTOR_SET_RELATIVE_PATH} not found above ${fileURLToPath(import.meta.url)}; run npm run gen`,
      );
    }
    dir = parent;
  }
}

/** Reads the committed descriptor set (see `descriptorSetPath`). */
export function loadDescriptorSet(): Uint8Array {
  return new Uint8Array(readFileSync(descriptorSetPath()));
}

/**
 * Splits a serialized FileDescriptorSet into the bytes of its files (field 1, repeated,
 * length-delimited), in order, without re-encoding anything. Other fields are skipped.
 */
export function splitDescriptorSet(set: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(set);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) files.push(reader.bytes());
    else reader.skip(wireType, fieldNo);
  }
  return files;
}

/**
 * Indexes a serialized FileDescriptorSet. Each file keeps the exact bytes found in the
 * set; a decoded copy is only used to collect names. Throws on a malformed set or on a
 * file whose imports are not in the set (reflection clients could not resolve it).
 */
export function indexDescriptorSet(set: Uint8Array): DescriptorIndex {
  const files = new Map<string, DescriptorFile>();
  const symbols = new Map<string, string>();
  const messages = new Set<string>();
  const extensions = new Map<string, Map<number, string>>();
  const services: string[] = [];

  for (const bytes of splitDescriptorSet(set)) {
    const file = fromBinary(FileDescriptorProtoSchema, bytes);
    files.set(file.name, { name: file.name, bytes, dependencies: [...file.dependency] });
    const add = (symbol: string): void => void symbols.set(symbol, file.name);
    const addExtension = (extension: FieldDescriptorProto): void => {
      const extendee = extension.extendee.replace(/^\./, "");
      const numbers = extensions.get(extendee) ?? new Map<number, string>();
      numbers.set(extension.number, file.name);
      extensions.set(extendee, numbers);
    };
    const prefix = file.package === "" ? "" : `${file.package}.`;

    for (const service of file.service) {
      const name = prefix + service.name;
      services.push(name);
      add(name);
      for (const method of service.method) add(`${name}.${method.name}`);
    }
    for (const message of file.messageType) indexMessage(prefix, message, add, addExtension, messages);
    for (const enumType of file.enumType) indexEnum(prefix, enumType, add);
    for (const extension of file.extension) {
      add(prefix + extension.name);
      addExtension(extension);
    }
  }

  for (const file of files.values()) {
    for (const dep of file.dependencies) {
      if (!files.has(dep)) throw new Error(`descriptor set: ${file.name} imports ${dep}, which the set lacks`);
    }
  }
  return { files, symbols, messages, extensions, services: services.sort() };
}

/**
 * The bytes of `name` followed by those of its transitive imports, each once — what a
 * reflection client needs to build the file. Undefined if the set has no such file.
 */
export function fileWithDependencies(index: DescriptorIndex, name: string): Uint8Array[] | undefined {
  if (!index.files.has(name)) return undefined;
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const visit = (fileName: string): void => {
    if (seen.has(fileName)) return;
    seen.add(fileName);
    const file = index.files.get(fileName);
    if (file === undefined) return;
    out.push(file.bytes);
    for (const dep of file.dependencies) visit(dep);
  };
  visit(name);
  return out;
}

function indexMessage(
  prefix: string,
  message: DescriptorProto,
  add: (symbol: string) => void,
  addExtension: (extension: FieldDescriptorProto) => void,
  messages: Set<string>,
): void {
  const name = prefix + message.name;
  add(name);
  messages.add(name);
  for (const field of message.field) add(`${name}.${field.name}`);
  for (const oneof of message.oneofDecl) add(`${name}.${oneof.name}`);
  for (const extension of message.extension) {
    add(`${name}.${extension.name}`);
    addExtension(extension);
  }
  for (const nested of message.nestedType) indexMessage(`${name}.`, nested, add, addExtension, messages);
  for (const enumType of message.enumType) indexEnum(`${name}.`, enumType, add);
}

/** Enum values are scoped beside their enum (protobuf's C++ scoping), not inside it. */
function indexEnum(prefix: string, enumType: EnumDescriptorProto, add: (symbol: string) => void): void {
  add(prefix + enumType.name);
  for (const value of enumType.value) add(prefix + value.name);
}
