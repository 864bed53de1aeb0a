/**
 * Aligned text tables for a terminal: columns padded to their widest cell, two spaces
 * apart, numbers right-aligned, no trailing spaces. Widths count UTF-16 units, which is
 * exact for the ids, slots and ASCII tags the tables show.
 */

/** A column's heading and alignment. */
export interface Column {
  title: string;
  align?: "left" | "right";
}

/** The table as lines: a heading row (when any column has a title), then one line per row. */
export function table(columns: Column[], rows: string[][]): string[] {
  const withHeading = columns.some((c) => c.title !== "") ? [columns.map((c) => c.title), ...rows] : rows;
  const widths = columns.map((_, i) => Math.max(0, ...withHeading.map((row) => (row[i] ?? "").length)));
  return withHeading.map((row) =>
    columns
      .map((c, i) => {
        const cell = row[i] ?? "";
        const width = widths[i] ?? 0;
        return c.align === "right" ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd(),
  );
}
