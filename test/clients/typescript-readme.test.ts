/**
 * The README's TypeScript example (section "TypeScript"), run as written with tsx against
 * a live server, with ADDR in its environment: it must print what its closing `// →`
 * comment shows. Part of `npm test`: it needs only Node.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";
import { ROOT, runTool } from "./tools.js";
import { matchesExpected, outputItems } from "./walkthrough-match.js";
import { codeBlocks } from "./walkthrough-parse.js";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** The `// → …` comment (with `//   …` continuation lines) that ends a code block. */
function expectedOutput(code: string): string[] {
  const lines = code.split("\n");
  const at = lines.findIndex((line) => line.startsWith("// → "));
  expect(at, "the example ends with a // → comment").toBeGreaterThan(0);
  return lines.slice(at).map((line) => line.replace(/^\/\/ (→|\s{2})\s?/, "").trim());
}

it("runs the README's TypeScript example as written and prints what it shows", async () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const [block, ...others] = codeBlocks(readme, "TypeScript").filter((b) => b.lang === "ts");
  expect(others).toEqual([]);
  s = await startTestServer();
  // tsx runs the block as an ES module from the repository's root, as `npx tsx hello.ts` would.
  const ran = await runTool(join(ROOT, "node_modules/.bin/tsx"), ["--input-type=module", "--eval", block!.text], {
    env: { ...process.env, ADDR: s.address },
    timeoutMs: 60_000,
  });
  expect(ran, ran.stderr).toMatchObject({ code: 0, stderr: "" });
  const expected = expectedOutput(block!.text);
  expect(matchesExpected(outputItems(ran.stdout), expected), `${ran.stdout}\nis not\n${expected.join("\n")}`).toBe(
    true,
  );
});
