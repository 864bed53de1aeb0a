/**
 * Rows of the benchmark report: each figure beside a baseline measured in the same run,
 * with `cost` = procworker's cost divided by the baseline's (for times and bytes: pw / base;
 * for rates: base / pw). cost 3.0 means "three times as expensive as the baseline"; below 1,
 * procworker is cheaper. A row may carry its target (the bound on `cost`, or on the
 * absolute figure) and whether this run met it.
 */
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
  /** Extra numbers (per-round values, sizes, counts). */
  detail?: Record<string, unknown>;
}

export function row(r: Omit<Row, "cost" | "met">): Row {
  const cost = r.unit === "/s" ? r.baseline / r.procworker : r.procworker / r.baseline;
  const t = r.target;
  const met =
    t === undefined
      ? undefined
      : (t.maxCost === undefined || cost <= t.maxCost) && (t.min === undefined || r.procworker >= t.min);
  return { ...r, cost, ...(met === undefined ? {} : { met }) };
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
  const head = ["#", "figure", "procworker", "baseline", "cost ×", "target", "baseline is"];
  const body = rows.map((r) => [
    r.id,
    r.figure,
    fmt(r.procworker, r.unit),
    fmt(r.baseline, r.unit),
    r.cost.toFixed(2),
    targetText(r),
    r.baselineIs,
  ]);
  const all = [head, ...body];
  const widths = head.map((_, c) => Math.max(...all.map((line) => (line[c] ?? "").length)));
  const right = new Set([2, 3, 4]);
  const fmtLine = (line: string[]): string =>
    line
      .map((cell, c) => (right.has(c) ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
      .join("  ")
      .trimEnd();
  return [fmtLine(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(fmtLine)].join("\n");
}
