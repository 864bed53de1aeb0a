/**
 * Small helpers for building multi-row statements, shared by the PostgreSQL store's files.
 */

/** Rows per INSERT statement: PostgreSQL allows 65535 parameters per statement. */
export const ROWS_PER_STATEMENT = 1000;

/** `items` in groups of at most ROWS_PER_STATEMENT. */
export function statementBatches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) out.push(items.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/** Placeholders for `rows` rows of `width` parameters numbered from `offset` + 1, each row
 * led by `lead`: `placeholders(2, 2, 1, "$1, ")` is `($1, $2, $3), ($1, $4, $5)`. */
export function placeholders(rows: number, width: number, offset: number, lead = ""): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const params = Array.from({ length: width }, (_, i) => `$${offset + r * width + i + 1}`);
    out.push(`(${lead}${params.join(", ")})`);
  }
  return out.join(", ");
}
