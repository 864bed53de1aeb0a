import { describe, expect, it } from "vitest";
import { parseCommandLine, slotOption, splitCommand, UsageError, type CommandSpec } from "../../../src/cli/args.js";

const spec: CommandSpec = {
  name: "compute",
  args: ["PROCESS"],
  summary: "compute",
  options: {
    slot: { type: "string", value: "N", doc: "slot" },
    tag: { type: "string", multiple: true, doc: "tag" },
  },
};

describe("the client command line", () => {
  it("finds the command after global options and their values", () => {
    expect(splitCommand(["--address", "h:1", "--json", "compute", "P"])).toEqual({
      command: "compute",
      rest: ["--address", "h:1", "--json", "P"],
      help: false,
    });
    expect(splitCommand(["--address=h:1", "workers", "-h"])).toEqual({
      command: "workers",
      rest: ["--address=h:1", "-h"],
      help: true,
    });
    expect(splitCommand(["--json"])).toEqual({ rest: ["--json"], help: false });
    expect(splitCommand(["--", "compute"])).toEqual({ rest: ["--", "compute"], help: false });
  });

  it("reads a command's options and the global ones, in any order", () => {
    const { values, positionals } = parseCommandLine(spec, [
      "--tag",
      "A=1",
      "P",
      "--address",
      "h:1",
      "--tag=B=2",
      "--slot",
      "7",
    ]);
    expect(positionals).toEqual(["P"]);
    expect(values).toMatchObject({ address: "h:1", tag: ["A=1", "B=2"], slot: "7" });
    expect(slotOption(values, "slot")).toBe(7n);
    expect(slotOption(values, "absent")).toBeUndefined();
  });

  it("refuses what does not fit, naming it", () => {
    const refused = (argv: string[]): string => {
      try {
        parseCommandLine(spec, argv);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      return "accepted";
    };
    expect(refused(["P", "--nope"])).toBe("unknown option --nope");
    expect(refused(["P", "-x"])).toBe("unknown option -x");
    expect(refused(["P", "--slot"])).toBe("option --slot needs a value");
    expect(refused(["P", "--slot", "--json"])).toBe("option --slot needs a value");
    expect(refused(["P", "--json=yes"])).toMatch(/^Option '--json' does not take an argument/);
    expect(refused([])).toBe("missing PROCESS");
    expect(refused(["P", "Q"])).toBe('unexpected argument "Q"');
    expect(() => slotOption({ slot: "-1" }, "slot")).toThrow('--slot takes a slot number, got "-1"');
    expect(() => slotOption({ slot: "1e3" }, "slot")).toThrow(UsageError);
  });
});
