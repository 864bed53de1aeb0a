/**
 * The CLI's JSON lines: one object per line, slots (uint64) as decimal strings, bytes as
 * base64 (as grpcurl prints them), tag maps as objects, timestamps as ISO 8601 strings.
 */

/**
 * `value` as one JSON line. Buffers reach the replacer already turned into
 * `{type: "Buffer", data: [...]}` by their toJSON, so that form is recognised.
 */
export const jsonLine = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Map) return Object.fromEntries(v as Map<string, unknown>);
    const buffer = v as { type?: unknown; data?: unknown };
    if (buffer !== null && typeof buffer === "object" && buffer.type === "Buffer" && Array.isArray(buffer.data)) {
      return Buffer.from(buffer.data as number[]).toString("base64");
    }
    return v;
  });
