/**
 * What a fuzz run saw: per method and input kind, how many inputs and which statuses; and the
 * findings — calls that ended with a status their method does not document (INTERNAL and
 * UNKNOWN first among them). Printed as a table for `npm run fuzz` and docs/reliability.md.
 */
import type { CallOutcome } from "./call.js";
import { INPUT_KINDS, type FuzzInput } from "./inputs.js";
import { FUZZ_METHODS, statusName } from "./methods.js";

/** A call whose status its method does not document. */
export interface Finding {
  method: string;
  kind: string;
  status: string;
  details: string;
  ms: number;
  request: string;
}

/** Counts by method, kind and status, and the findings. */
export class Tally {
  /** `${method} ${kind}` → status name → count. */
  readonly counts = new Map<string, Map<string, number>>();
  readonly findings: Finding[] = [];
  calls = 0;

  /** Records one call; a status its method does not document becomes a finding. */
  record(input: FuzzInput, outcome: CallOutcome): void {
    this.calls++;
    const key = `${input.method.name} ${input.kind}`;
    const byStatus = this.counts.get(key) ?? new Map<string, number>();
    this.counts.set(key, byStatus);
    const name = statusName(outcome.code);
    byStatus.set(name, (byStatus.get(name) ?? 0) + 1);
    if (!input.method.documented.has(outcome.code)) {
      this.findings.push({
        method: input.method.name,
        kind: input.kind,
        status: name,
        details: outcome.details.slice(0, 200),
        ms: Math.round(outcome.ms),
        request: input.label,
      });
    }
  }

  /** Every status seen, over all methods (name → count). */
  statuses(): Map<string, number> {
    const all = new Map<string, number>();
    for (const byStatus of this.counts.values()) {
      for (const [name, n] of byStatus) all.set(name, (all.get(name) ?? 0) + n);
    }
    return all;
  }

  /** Inputs per kind. */
  kinds(): Map<string, number> {
    const all = new Map<string, number>();
    for (const [key, byStatus] of this.counts) {
      const kind = key.split(" ")[1] as string;
      let n = 0;
      for (const c of byStatus.values()) n += c;
      all.set(kind, (all.get(kind) ?? 0) + n);
    }
    return all;
  }

  /** A Markdown table: one row per method, one column per input kind ("inputs: STATUS n, …"). */
  table(): string {
    const lines = [`| method | ${INPUT_KINDS.join(" | ")} |`, `|---|${INPUT_KINDS.map(() => "---|").join("")}`];
    for (const m of FUZZ_METHODS) {
      const cells = INPUT_KINDS.map((kind) => {
        const byStatus = this.counts.get(`${m.name} ${kind}`);
        if (byStatus === undefined) return "—";
        const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
        const sorted = [...byStatus].sort((a, b) => b[1] - a[1]);
        return `${total}: ${sorted.map(([name, n]) => `${name} ${n}`).join(", ")}`;
      });
      lines.push(`| ${m.name} | ${cells.join(" | ")} |`);
    }
    return lines.join("\n");
  }
}
