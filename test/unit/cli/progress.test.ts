import { describe, expect, it } from "vitest";
import { ProgressBar } from "../../../src/cli/progress.js";
import { table } from "../../../src/cli/table.js";

describe("the compute progress bar", () => {
  it("draws at once, redraws at most every 100 ms and at the end, and erases itself", () => {
    let now = 0;
    const writes: string[] = [];
    const bar = new ProgressBar({ write: (t) => (writes.push(t), true), columns: 60 }, 4, () => now);
    bar.start();
    expect(writes).toEqual([`\r[${"░".repeat(20)}] 0/4 slots  - slots/s\x1b[K`]);
    now = 50;
    bar.update();
    expect(writes).toHaveLength(1); // within 100 ms of the last frame
    now = 200;
    bar.update();
    expect(writes[1]).toBe(`\r[${"█".repeat(10)}${"░".repeat(10)}] 2/4 slots  10 slots/s\x1b[K`);
    bar.clear();
    expect(writes[2]).toBe("\r\x1b[K");
    bar.clear();
    expect(writes).toHaveLength(3); // nothing to erase
    now = 210;
    bar.update(); // the first update after an erase redraws
    now = 220;
    bar.update(); // the last one always does
    expect(writes.slice(3).map((w) => w.replace(/\r\[([█░]+)\].*/, "$1").length)).toEqual([20, 20]);
    expect(writes[4]).toContain("] 4/4 slots  18 slots/s");
    expect(bar.summary()).toBe("4 slots in 0.2s (18 slots/s)");
  });

  it("aligns table columns, numbers to the right", () => {
    expect(
      table(
        [{ title: "NAME" }, { title: "N", align: "right" }, { title: "NOTE" }],
        [
          ["a", "1", ""],
          ["bbbbbb", "100", "x"],
        ],
      ),
    ).toEqual(["NAME      N  NOTE", "a         1", "bbbbbb  100  x"]);
  });
});
