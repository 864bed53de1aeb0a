/**
 * Reads a shell walk-through out of a Markdown document (the README's grpcurl section), so
 * that the commands a person copies are the commands the client tests run.
 *
 * The section is every ```sh block under one heading (up to the next heading of the same
 * or a higher level). A block is cut into steps: a step is a run of command lines (a line
 * ending in `\` continues onto the next), ended by a blank line, a comment line, or the
 * step's expected output, which is a `# → …` comment with continuation lines `#   …`
 * (three or more spaces after the `#`). Commands are kept as written: bash parses them.
 */

/** One step of a walk-through: shell text and what it should print. */
export interface WalkthroughStep {
  /** Line of the document (1-based) where the step's first command is. */
  line: number;
  /** The step's command lines, as written (after `withOverrides`). */
  script: string;
  /** The expected output, one entry per `# →` line, or undefined when the step shows none. */
  expect?: string[];
}

const FENCE = /^```(\S*)\s*$/;
const EXPECT = /^#\s*→\s?(.*)$/;
const EXPECT_MORE = /^# {3}(.*)$/;

/** A fenced code block: its language, its text, and the document line (1-based) of its first line. */
export interface CodeBlock {
  lang: string;
  text: string;
  line: number;
}

/**
 * The fenced code blocks under the heading whose text is `heading` (any level), up to the
 * next heading of the same or a higher level (its subsections included).
 */
export function codeBlocks(markdown: string, heading: string): CodeBlock[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => /^#{1,6} /.test(l) && l.replace(/^#+ /, "").trim() === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = /^#+/.exec(lines[start]!)![0].length;

  const blocks: CodeBlock[] = [];
  let open: { lang: string; from: number } | undefined;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (!open) {
      const h = /^(#{1,6}) /.exec(line);
      if (h && h[1]!.length <= level) break;
      if (fence) open = { lang: fence[1] ?? "", from: i + 1 };
    } else if (fence && fence[1] === "") {
      blocks.push({ lang: open.lang, text: lines.slice(open.from, i).join("\n"), line: open.from + 1 });
      open = undefined;
    }
  }
  if (open) throw new Error(`a code block under "${heading}" never ends (line ${open.from})`);
  return blocks;
}

/** The steps of the ```sh blocks under the heading whose text is `heading` (see codeBlocks). */
export function walkthroughSteps(markdown: string, heading: string): WalkthroughStep[] {
  return codeBlocks(markdown, heading)
    .filter((block) => ["sh", "bash", "shell"].includes(block.lang))
    .flatMap((block) => blockSteps(block.text.split("\n"), block.line));
}

/** The steps of one block's lines; `firstLine` is the document line (1-based) of lines[0]. */
function blockSteps(lines: string[], firstLine: number): WalkthroughStep[] {
  const steps: WalkthroughStep[] = [];
  let commands: string[] = [];
  let first = 0;
  const close = (expect?: string[]): void => {
    if (commands.length > 0)
      steps.push({ line: firstLine + first, script: commands.join("\n"), ...(expect ? { expect } : {}) });
    commands = [];
  };
  const to = lines.length;
  for (let i = 0; i < to; i++) {
    const line = lines[i]!;
    const continued = commands.length > 0 && commands[commands.length - 1]!.endsWith("\\");
    const expect = EXPECT.exec(line);
    if (continued) {
      commands.push(line);
    } else if (expect) {
      if (commands.length === 0) throw new Error(`line ${firstLine + i}: expected output without a command before it`);
      const expected = [expect[1]!.trim()];
      while (i + 1 < to && EXPECT_MORE.test(lines[i + 1]!)) expected.push(EXPECT_MORE.exec(lines[++i]!)![1]!.trim());
      close(expected);
    } else if (line.trim() === "" || line.trimStart().startsWith("#")) {
      close();
    } else {
      if (commands.length === 0) first = i;
      commands.push(line);
    }
  }
  close();
  return steps;
}

/**
 * Replaces the value of each assignment `NAME=value` that starts a line, for every NAME in
 * `values` (the rest of the line, such as a comment, stays). The README sets ADDR for a
 * person; the tests point it at their own server. Throws when a NAME is never assigned, so a
 * renamed variable cannot silently send the commands elsewhere.
 */
export function withOverrides(steps: WalkthroughStep[], values: Record<string, string>): WalkthroughStep[] {
  const used = new Set<string>();
  const out = steps.map((step) => ({
    ...step,
    script: step.script
      .split("\n")
      .map((line) =>
        line.replace(/^(\s*)([A-Za-z_][A-Za-z0-9_]*)=(\S*)/, (whole, indent: string, name: string) => {
          if (!(name in values)) return whole;
          used.add(name);
          return `${indent}${name}=${quote(values[name]!)}`;
        }),
      )
      .join("\n"),
  }));
  const unused = Object.keys(values).filter((name) => !used.has(name));
  if (unused.length > 0)
    throw new Error(`the walk-through never assigns ${unused.join(", ")} (NAME=value at a line's start)`);
  return out;
}

/** A shell word for `value` (single-quoted unless it needs no quotes). */
function quote(value: string): string {
  return /^[A-Za-z0-9_.:/@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
