/**
 * Rows of the benchmark report: each figure beside a baseline measured in the same run,
 * with `cost` = procworker's cost divided by the baseline's (for times: pw / base; for
 * rates: base / pw). cost 3.0 means "three times as expensive as the baseline"; below 1,
 * procworker is cheaper.
 */
export type Unit = "ms" | "us" | "/s";

export interface Row {
  id: string;
  figure: string;
  unit: Unit;
  procworker: number;
  baseline: number;
  cost: number;
  /** Short name of the baseline (the table); docs/benchmarks.md explains each. */
  baselineIs: string;
  /** Extra numbers (per-round values, sizes, counts). */
  detail?: Record<string, unknown>;
}

export function row(r: Omit<Row, "cost">): Row {
  const cost = r.unit === "/s" ? r.baseline / r.procworker : r.procworker / r.baseline;
  return { ...r, cost };
}

export function fmt(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return "n/a";
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : 3;
  const n = value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit === "/s" ? `${n}/s` : `${n} ${unit === "us" ? "µs" : "ms"}`;
}

export function table(rows: readonly Row[]): string {
  const head = ["#", "figure", "procworker", "baseline", "cost ×", "baseline is"];
  const body = rows.map((r) => [
    r.id,
    r.figure,
    fmt(r.procworker, r.unit),
    fmt(r.baseline, r.unit),
    r.cost.toFixed(2),
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
