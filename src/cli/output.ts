/**
 * Where a client command's output goes. JSON lines when `--json` is given or stdout is not
 * a terminal (scripts and pipes get the same output whatever the terminal), text for
 * people otherwise. A progress bar drawn on the same terminal is erased before each line.
 */
import { jsonLine } from "./json.js";

/** The stdout a command writes to. */
export interface LineStream {
  write(text: string): boolean;
  isTTY?: boolean;
}

/** A command's stdout: `emit` a value as JSON or as text, `line` for text only. */
export class Output {
  /** Called before each line (a progress bar erases itself). */
  beforeLine: (() => void) | undefined;

  /** Whether stdout is a terminal. */
  readonly terminal: boolean;
  /** JSON lines: `--json` was given or stdout is not a terminal. */
  readonly json: boolean;

  constructor(
    private readonly stdout: LineStream,
    forceJson: boolean,
  ) {
    this.terminal = stdout.isTTY === true;
    this.json = forceJson || !this.terminal;
  }

  /** One JSON line of `value`, or the lines `text` gives for a person. */
  emit(value: unknown, text: () => string | string[]): void {
    if (this.json) this.line(jsonLine(value));
    else for (const line of [text()].flat()) this.line(line);
  }

  /** One line on stdout. */
  line(text: string): void {
    this.beforeLine?.();
    this.stdout.write(`${text}\n`);
  }
}
