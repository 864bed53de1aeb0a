// @ts-nocheck -- AssemblyScript, compiled by asc (examples/build.ts), not by tsc.
/**
 * A per-key counter process for procworker's wasm@1.0 device, in AssemblyScript.
 *
 * Each message names a `Key`; the process counts how often it has seen each key and answers
 * with tags Key, Count (for that key), Keys (distinct keys so far) and Total (messages).
 * A message without a Key fails its slot with {"error": ...}.
 *
 * The counts live in a Map on AssemblyScript's garbage-collected heap. The runtime keeps
 * its heap and collector state in mutable globals that the module does not export; the host
 * snapshots every mutable global anyway, so a snapshot/restore keeps the counts.
 */

const counts = new Map<string, i64>();
let total: i64 = 0;
/** The last output, kept reachable so the collector leaves it alone until the host reads it. */
let lastOutput: ArrayBuffer = new ArrayBuffer(0);

/** Room for the host to write `len` input bytes (freed once pw_init/pw_handle read them). */
export function pw_alloc(len: i32): i32 {
  return <i32>heap.alloc(<usize>len);
}

/** Slot 0: the spawn message. */
export function pw_init(ptr: i32, len: i32): i64 {
  heap.free(<usize>ptr);
  return respond('{"tags":{"Keys":"0","Total":"0"}}');
}

export function pw_handle(ptr: i32, len: i32): i64 {
  const input = String.UTF8.decodeUnsafe(<usize>ptr, <usize>len);
  heap.free(<usize>ptr);
  const tags = parseTags(input);
  if (tags == null) return respond('{"error":"input has no tags object"}');
  if (!tags.has("Key")) return respond('{"error":"missing Key tag"}');
  const key = tags.get("Key");
  const count: i64 = (counts.has(key) ? counts.get(key) : 0) + 1;
  counts.set(key, count);
  total += 1;
  return respond(
    '{"tags":{"Key":' +
      quote(key) +
      ',"Count":"' +
      count.toString() +
      '","Keys":"' +
      counts.size.toString() +
      '","Total":"' +
      total.toString() +
      '"}}',
  );
}

/** Encodes the output as UTF-8 and returns (pointer << 32) | length. */
function respond(json: string): i64 {
  lastOutput = String.UTF8.encode(json);
  return ((<i64>changetype<usize>(lastOutput)) << 32) | (<i64>lastOutput.byteLength);
}

/** The "tags" object of the host's input JSON, or null if there is none. */
function parseTags(json: string): Map<string, string> | null {
  const start = json.indexOf('"tags":{');
  if (start < 0) return null;
  const reader = new Reader(json, start + 8);
  const tags = new Map<string, string>();
  while (reader.pos < json.length) {
    const c = json.charCodeAt(reader.pos);
    if (c == 0x7d) return tags; // '}'
    if (c == 0x2c) {
      reader.pos++;
      continue;
    } // ','
    const name = reader.string();
    if (name == null || json.charCodeAt(reader.pos) != 0x3a) return null; // ':'
    reader.pos++;
    const value = reader.string();
    if (value == null) return null;
    tags.set(name, value);
  }
  return null;
}

class Reader {
  constructor(
    public src: string,
    public pos: i32,
  ) {}

  /** A JSON string starting at `pos` (a quote), unescaped; `pos` moves past it. */
  string(): string | null {
    const s = this.src;
    if (s.charCodeAt(this.pos) != 0x22) return null;
    this.pos++;
    let out = "";
    let from = this.pos;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c == 0x22) {
        out += s.substring(from, this.pos);
        this.pos++;
        return out;
      }
      if (c == 0x5c) {
        out += s.substring(from, this.pos);
        const e = s.charCodeAt(this.pos + 1);
        if (e == 0x75) {
          // \uXXXX
          out += String.fromCharCode(<i32>parseInt(s.substring(this.pos + 2, this.pos + 6), 16));
          this.pos += 6;
        } else {
          out +=
            e == 0x6e
              ? "\n"
              : e == 0x74
                ? "\t"
                : e == 0x72
                  ? "\r"
                  : e == 0x62
                    ? "\b"
                    : e == 0x66
                      ? "\f"
                      : String.fromCharCode(e);
          this.pos += 2;
        }
        from = this.pos;
        continue;
      }
      this.pos++;
    }
    return null;
  }
}

/** A JSON string literal for `s`. */
function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c < 0x20) out += "\\u00" + (c < 16 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + '"';
}
