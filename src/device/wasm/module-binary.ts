/**
 * The WebAssembly binary format, only as far as the load-time rewrite needs it: the module's
 * sections, its function types, imports, function declarations, memory, mutable globals and
 * exports. Function bodies, tables, data and custom sections are never decoded, so no
 * instruction of the module (and no name it carries) can upset the rewrite. The bytes have
 * already been accepted by `new WebAssembly.Module`; an encoding this reader does not know
 * is a feature the device does not offer (UnsupportedEncoding), never a crash.
 */

/** A value type of the core format, by name. */
export type ValueType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref";

const VALUE_TYPES: Record<number, ValueType> = {
  0x7f: "i32",
  0x7e: "i64",
  0x7d: "f32",
  0x7c: "f64",
  0x7b: "v128",
  0x70: "funcref",
  0x6f: "externref",
};

/** Section ids of the core format. */
export const SECTION = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const;

/** Export kinds of the core format. */
export const EXTERNAL = { function: 0, table: 1, memory: 2, global: 3, tag: 4 } as const;

/** Bytes this reader does not understand (a feature outside what the device supports). */
export class UnsupportedEncoding extends Error {
  override name = "UnsupportedEncoding";
}

/** One top-level section: its id and where its body lies in the module's bytes. */
export interface Section {
  id: number;
  /** Offset of the section's id byte. */
  start: number;
  /** Offsets of its body (after the size). */
  bodyStart: number;
  end: number;
}

export interface FunctionType {
  params: ValueType[];
  results: ValueType[];
}

/** Memory limits as declared (64 KiB pages). */
export interface MemoryLimits {
  shared: boolean;
  is64: boolean;
  initial: number;
  maximum: number | undefined;
}

export interface GlobalDeclaration {
  type: ValueType;
  mutable: boolean;
}

export interface ExportEntry {
  name: string;
  kind: number;
  index: number;
}

/** What the rewrite reads from a module (see the file comment). */
export interface ModuleOutline {
  sections: Section[];
  types: FunctionType[];
  /** Type index of every imported function, in import order. */
  importedFunctions: { module: string; name: string; type: number }[];
  importedGlobals: number;
  /** Type index of every function the module defines, in order. */
  functions: number[];
  memories: MemoryLimits[];
  importedMemories: number;
  globals: GlobalDeclaration[];
  exports: ExportEntry[];
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A bounds-checked cursor over the module's bytes. */
class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
    private readonly end: number,
  ) {}

  u8(): number {
    if (this.pos >= this.end) throw new UnsupportedEncoding("unexpected end of a section");
    return this.bytes[this.pos++]!;
  }

  /** Unsigned LEB128, at most 32 bits. */
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.u8();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (result > 0xffffffff) throw new UnsupportedEncoding("a 32-bit number out of range");
        return result;
      }
    }
    throw new UnsupportedEncoding("a 32-bit number longer than 5 bytes");
  }

  /** Skips a signed LEB128 of up to `bits` bits. */
  skipSigned(bits: number): void {
    const max = Math.ceil(bits / 7);
    for (let i = 0; i < max; i++) if ((this.u8() & 0x80) === 0) return;
    throw new UnsupportedEncoding(`a ${bits}-bit number longer than ${max} bytes`);
  }

  skip(n: number): void {
    if (this.pos + n > this.end) throw new UnsupportedEncoding("unexpected end of a section");
    this.pos += n;
  }

  name(): string {
    const length = this.u32();
    const start = this.pos;
    this.skip(length);
    try {
      return strictUtf8.decode(this.bytes.subarray(start, start + length));
    } catch {
      throw new UnsupportedEncoding("a name that is not UTF-8");
    }
  }

  valueType(): ValueType {
    const code = this.u8();
    const type = VALUE_TYPES[code];
    if (type === undefined) throw new UnsupportedEncoding(`value type 0x${code.toString(16)}`);
    return type;
  }

  limits(): MemoryLimits {
    const flags = this.u8();
    if (flags > 7) throw new UnsupportedEncoding(`limits flags 0x${flags.toString(16)}`);
    const is64 = (flags & 4) !== 0;
    if (is64) return { shared: (flags & 2) !== 0, is64, initial: 0, maximum: undefined };
    const initial = this.u32();
    const maximum = (flags & 1) !== 0 ? this.u32() : undefined;
    return { shared: (flags & 2) !== 0, is64, initial, maximum };
  }

  /** Skips a constant expression, up to and including its `end`. */
  skipConstantExpression(): void {
    for (;;) {
      const op = this.u8();
      switch (op) {
        case 0x0b: // end
          return;
        case 0x41: // i32.const
          this.skipSigned(32);
          break;
        case 0x42: // i64.const
          this.skipSigned(64);
          break;
        case 0x43: // f32.const
          this.skip(4);
          break;
        case 0x44: // f64.const
          this.skip(8);
          break;
        case 0x23: // global.get
        case 0xd2: // ref.func
          this.u32();
          break;
        case 0xd0: // ref.null heaptype
          this.skipSigned(33);
          break;
        case 0x6a: // i32.add, sub, mul; i64.add, sub, mul (extended constant expressions)
        case 0x6b:
        case 0x6c:
        case 0x7c:
        case 0x7d:
        case 0x7e:
          break;
        case 0xfd: {
          const sub = this.u32();
          if (sub !== 12) throw new UnsupportedEncoding(`constant instruction 0xfd ${sub}`);
          this.skip(16); // v128.const
          break;
        }
        default:
          throw new UnsupportedEncoding(`constant instruction 0x${op.toString(16)}`);
      }
    }
  }

  /** Reads a vector: its length, then `item` that many times. */
  vector<T>(item: () => T): T[] {
    const count = this.u32();
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(item());
    return out;
  }
}

/** Reads the outline of a module WebAssembly has already accepted. Throws UnsupportedEncoding. */
export function readOutline(bytes: Uint8Array): ModuleOutline {
  const outline: ModuleOutline = {
    sections: [],
    types: [],
    importedFunctions: [],
    importedGlobals: 0,
    functions: [],
    memories: [],
    importedMemories: 0,
    globals: [],
    exports: [],
  };
  const top = new Reader(bytes, 8, bytes.byteLength);
  while (top.pos < bytes.byteLength) {
    const start = top.pos;
    const id = top.u8();
    const size = top.u32();
    const bodyStart = top.pos;
    top.skip(size);
    outline.sections.push({ id, start, bodyStart, end: top.pos });
    readSection(new Reader(bytes, bodyStart, bodyStart + size), id, outline);
  }
  return outline;
}

function readSection(r: Reader, id: number, outline: ModuleOutline): void {
  switch (id) {
    case SECTION.type:
      outline.types = r.vector(() => {
        const form = r.u8();
        if (form !== 0x60) throw new UnsupportedEncoding(`type form 0x${form.toString(16)}`);
        return { params: r.vector(() => r.valueType()), results: r.vector(() => r.valueType()) };
      });
      return;
    case SECTION.import:
      r.vector(() => {
        const module = r.name();
        const name = r.name();
        const kind = r.u8();
        if (kind === EXTERNAL.function) outline.importedFunctions.push({ module, name, type: r.u32() });
        else if (kind === EXTERNAL.table) {
          r.valueType();
          r.limits();
        } else if (kind === EXTERNAL.memory) {
          r.limits();
          outline.importedMemories++;
        } else if (kind === EXTERNAL.global) {
          r.valueType();
          r.u8();
          outline.importedGlobals++;
        } else throw new UnsupportedEncoding(`import kind ${kind}`);
      });
      return;
    case SECTION.function:
      outline.functions = r.vector(() => r.u32());
      return;
    case SECTION.memory:
      outline.memories = r.vector(() => r.limits());
      return;
    case SECTION.global:
      outline.globals = r.vector(() => {
        const type = r.valueType();
        const mutable = r.u8() === 1;
        r.skipConstantExpression();
        return { type, mutable };
      });
      return;
    case SECTION.export:
      outline.exports = r.vector(() => ({ name: r.name(), kind: r.u8(), index: r.u32() }));
      return;
    default:
      return; // read by nobody here: copied as they are (custom sections are dropped)
  }
}

/** Unsigned LEB128 bytes of `n`. */
export function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** A name as the binary format writes it: its UTF-8 length, then the bytes. */
export function encodeName(name: string): number[] {
  const bytes = new TextEncoder().encode(name);
  return [...leb128(bytes.length), ...bytes];
}

/** Value type bytes (for the few types the rewrite writes). */
export const VALUE_TYPE_CODE: Record<"i32" | "i64" | "f32" | "f64", number> = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
};

/**
 * Entries to append to (or replace in) vector sections. `replace` gives a section's whole
 * new body; `append` adds `count` entries (already encoded) after the existing ones.
 */
export interface SectionEdits {
  replace?: Map<number, number[]>;
  append?: Map<number, { count: number; bytes: number[] }>;
}

/** The module with `edits` applied and every custom section dropped. */
export function editSections(bytes: Uint8Array, outline: ModuleOutline, edits: SectionEdits): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  for (const section of outline.sections) {
    if (section.id === SECTION.custom) continue;
    const replaced = edits.replace?.get(section.id);
    const appended = edits.append?.get(section.id);
    if (replaced === undefined && (appended === undefined || appended.count === 0)) {
      parts.push(bytes.subarray(section.start, section.end));
      continue;
    }
    let body: number[] | Uint8Array;
    if (replaced !== undefined) body = replaced;
    else {
      const r = new Reader(bytes, section.bodyStart, section.end);
      const count = r.u32();
      const rest = bytes.subarray(r.pos, section.end);
      body = concat([new Uint8Array(leb128(count + appended!.count)), rest, new Uint8Array(appended!.bytes)]);
    }
    parts.push(new Uint8Array([section.id, ...leb128(body.length)]), Uint8Array.from(body));
  }
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
