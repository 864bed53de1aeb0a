/**
 * Rows of the benchmark report: each figure beside a baseline measured in the same run,
 * with `cost` = procworker's cost divided by the baseline's (for times and bytes: pw / base;
 * for rates: base / pw). cost 3.0 means "three times as expensive as the baseline"; below 1,
 * procworker is cheaper. A row may carry its target (the issue's bound on `cost`, or on the
 * absolute figure) and whether this run met it. A figure measured over rounds may carry each
 * round's pair (procworker, baseline): the table then shows the range of the rounds' costs,
 * so a reader sees how far this machine's noise moves a ratio.
 */
import { median } from "./stats.js";

export type Unit = "ms" | "us" | "/s" | "B";

export interface Target {
  /** The largest acceptable cost ×. */
  maxCost?: number;
  /** The smallest acceptable procworker figure (rates). */
  min?: number;
}

export interface Row {
  id: string;
  figure: string;
  unit: Unit;
  procworker: number;
  baseline: number;
  cost: number;
  /** Short name of the baseline (the table); docs/benchmarks.md explains each. */
  baselineIs: string;
  target?: Target;
  /** Whether this run met the target (undefined without one). */
  met?: boolean;
  /** Each round's (procworker, baseline), measured back to back. */
  pairs?: readonly (readonly [number, number])[];
  /** The lowest and highest of the rounds' costs (with `pairs`). */
  spread?: readonly [number, number];
  /** Extra numbers (per-round values, sizes, counts). */
  detail?: Record<string, unknown>;
}

export function row(r: Omit<Row, "cost" | "met" | "spread">): Row {
  const costOf = (procworker: number, baseline: number): number =>
    r.unit === "/s" ? baseline / procworker : procworker / baseline;
  const cost = costOf(r.procworker, r.baseline);
  const costs = (r.pairs ?? []).map(([pw, base]) => costOf(pw, base)).filter(Number.isFinite);
  const spread = costs.length > 1 ? ([Math.min(...costs), Math.max(...costs)] as const) : undefined;
  const t = r.target;
  const met =
    t === undefined
      ? undefined
      : (t.maxCost === undefined || cost <= t.maxCost) && (t.min === undefined || r.procworker >= t.min);
  return { ...r, cost, ...(met === undefined ? {} : { met }), ...(spread === undefined ? {} : { spread }) };
}

/**
 * A figure and its baseline measured over the same rounds: the median of each (stats.ts), and
 * each round's pair for the row's spread. A round where either is missing is left out.
 */
export function overRounds<R>(
  rounds: readonly R[],
  procworker: (round: R) => number | undefined,
  baseline: (round: R) => number | undefined,
): Pick<Row, "procworker" | "baseline" | "pairs"> {
  const pairs = rounds.flatMap((r) => {
    const pw = procworker(r);
    const base = baseline(r);
    return pw === undefined || base === undefined ? [] : [[pw, base] as const];
  });
  return { procworker: median(pairs.map(([pw]) => pw)), baseline: median(pairs.map(([, base]) => base)), pairs };
}

export function fmt(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return "n/a";
  if (unit === "B") return value >= 10_240 ? `${(value / 1024).toFixed(0)} KiB` : `${value.toFixed(0)} B`;
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : 3;
  const n = value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit === "/s" ? `${n}/s` : `${n} ${unit === "us" ? "µs" : "ms"}`;
}

function targetText(r: Row): string {
  const t = r.target;
  if (t === undefined) return "";
  const parts = [
    ...(t.maxCost !== undefined ? [`× ≤ ${Number(t.maxCost.toFixed(2))}`] : []),
    ...(t.min !== undefined ? [`≥ ${fmt(t.min, r.unit)}`] : []),
  ];
  return `${parts.join(", ")} ${r.met ? "met" : "MISSED"}`;
}

export function table(rows: readonly Row[]): string {
  const head = ["#", "figure", "procworker", "baseline", "cost ×", "rounds", "target", "baseline is"];
  const body = rows.map((r) => [
    r.id,
    r.figure,
    fmt(r.procworker, r.unit),
    fmt(r.baseline, r.unit),
    r.cost.toFixed(2),
    r.spread === undefined ? "" : `${r.spread[0].toFixed(2)}–${r.spread[1].toFixed(2)}`,
    targetText(r),
    r.baselineIs,
  ]);
  const all = [head, ...body];
  const widths = head.map((_, c) => Math.max(...all.map((line) => (line[c] ?? "").length)));
  const right = new Set([2, 3, 4, 5]);
  const fmtLine = (line: string[]): string =>
    line
      .map((cell, c) => (right.has(c) ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
      .join("  ")
      .trimEnd();
  return [fmtLine(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(fmtLine)].join("\n");
}
