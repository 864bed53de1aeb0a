/**
 * Compares what a walk-through step printed with the output its `# →` comment shows. The
 * README shows each JSON document grpcurl prints (indented, over many lines) on one line,
 * so both sides are compared as items: one per JSON document, in the compact form
 * `{"key": value, …}` (or as printed, when it was printed on one line, as the CLI does),
 * and one per other non-empty line, trimmed. In an expected line `…` stands for any text
 * (and the spaces around it); a line that is only `…` stands for any number of items.
 */

const ANY = "…";

/** One item of output: a JSON document or a line of text. */
export interface OutputItem {
  /** A JSON document in the compact form; a line of text trimmed. */
  text: string;
  /** The item as printed, when that was one line (else the same as `text`). */
  printed: string;
}

/** The output as items: each JSON document as one compact line, every other line trimmed. */
export function outputItems(output: string): OutputItem[] {
  const lines = output.split("\n");
  const items: OutputItem[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const end = line.startsWith("{") || line.startsWith("[") ? jsonEnd(lines, i) : undefined;
    if (end) {
      const text = compact(end.value);
      items.push({ text, printed: end.last === i ? line : text });
      i = end.last;
    } else {
      items.push({ text: line, printed: line });
    }
  }
  return items;
}

/** The JSON document that starts at lines[from], and its last line; undefined if none does. */
function jsonEnd(lines: string[], from: number): { value: unknown; last: number } | undefined {
  let text = "";
  for (let i = from; i < lines.length && i < from + 10_000; i++) {
    text += lines[i] + "\n";
    try {
      return { value: JSON.parse(text) as unknown, last: i };
    } catch {
      // not complete yet
    }
  }
  return undefined;
}

/** JSON on one line, with a space after each `:` and `,` as the README writes it. */
export function compact(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(compact).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${compact(v)}`)
      .join(", ")}}`;
  }
  return JSON.stringify(value);
}

/** Whether `items` match the `expected` lines (see the module comment for `…`). */
export function matchesExpected(items: OutputItem[], expected: string[]): boolean {
  const patterns = expected.map((line) => (line === ANY ? ANY : linePattern(line)));
  // Glob matching over lists, by memoised recursion: a standalone `…` takes 0..n items.
  const memo = new Map<string, boolean>();
  const match = (i: number, p: number): boolean => {
    const key = `${i},${p}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let ok: boolean;
    const pattern = patterns[p];
    if (pattern === undefined) ok = i === items.length;
    else if (pattern === ANY) ok = match(i, p + 1) || (i < items.length && match(i + 1, p));
    else ok = i < items.length && matchesItem(pattern, items[i]!) && match(i + 1, p + 1);
    memo.set(key, ok);
    return ok;
  };
  return match(0, 0);
}

function matchesItem(pattern: RegExp, item: OutputItem): boolean {
  return pattern.test(item.text) || pattern.test(item.printed);
}

/**
 * A whole-line regular expression for an expected line whose `…` matches any text, the
 * spaces around it included (so `{… "slot": "2", …}` reads naturally and still matches).
 */
function linePattern(line: string): RegExp {
  const parts = line.split(/\s*…\s*/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`, "s");
}
