/**
 * A one-line progress bar for `compute` on a terminal's stderr: slots done / slots to do
 * and the rate, redrawn in place (`\r`, erase to end of line) at most every 100 ms, so a fast
 * stream costs a few writes a second. Only drawn when the stream is a terminal.
 */
import { performance } from "node:perf_hooks";

/** Where the bar is drawn: a terminal stream (columns may be 0 or absent in a bare pty). */
export interface BarStream {
  write(text: string): boolean;
  columns?: number;
}

const REDRAW_MS = 100;

/**
 * Progress of a stream of `total` slot results (`update` with each, `clear` before other
 * output on the same terminal, `summary` at the end).
 */
export class ProgressBar {
  private done = 0;
  private drawnAt = -Infinity;
  private shown = false;
  private readonly started: number;

  constructor(
    private readonly stream: BarStream,
    private readonly total: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  /** Draws the empty bar at once, so a slow first slot is not mistaken for a hang. */
  start(): void {
    this.draw();
  }

  /** Counts one result; redraws when 100 ms have passed or the last one is in. */
  update(): void {
    this.done++;
    if (this.now() - this.drawnAt >= REDRAW_MS || this.done >= this.total) this.draw();
  }

  /** Erases the bar (before other output on the same terminal, and at the end); the next update redraws it. */
  clear(): void {
    if (!this.shown) return;
    this.stream.write("\r\x1b[K");
    this.shown = false;
    this.drawnAt = -Infinity;
  }

  /** `12 slots in 0.4s (30 slots/s)`: what the bar measured, for a closing line. */
  summary(): string {
    const seconds = this.seconds();
    return `${this.done} slot${this.done === 1 ? "" : "s"} in ${seconds.toFixed(1)}s (${rateText(this.done, seconds)})`;
  }

  /** The bar's text for a terminal `columns` wide: `[███░░░] 37/100 slots  1234 slots/s`. */
  line(columns: number): string {
    const fraction = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const text = ` ${this.done}/${this.total} slots  ${rateText(this.done, this.seconds())}`;
    // The same width in every frame: the text after the bar takes at most 38 columns.
    const width = Math.max(10, Math.min(40, columns - 40));
    const full = Math.round(fraction * width);
    return `[${"█".repeat(full)}${"░".repeat(width - full)}]${text}`;
  }

  private seconds(): number {
    return (this.now() - this.started) / 1000;
  }

  private draw(): void {
    this.drawnAt = this.now();
    this.stream.write(`\r${this.line(this.stream.columns || 80)}\x1b[K`);
    this.shown = true;
  }
}

function rateText(count: number, seconds: number): string {
  if (seconds <= 0 || count === 0) return "- slots/s";
  const rate = count / seconds;
  return `${rate < 10 ? rate.toFixed(1) : Math.round(rate)} slots/s`;
}
