/**
 * The options that build one message (`--tag Name=Value …`, `--data TEXT`), shared by
 * spawn, schedule and dry-run.
 */
import { UsageError, stringOption, type OptionSpec, type Values } from "../args.js";
import type { Message } from "../../generated/procworker/v1/types.js";

/** `--tag` and `--data`, for a command's spec. */
export const MESSAGE_OPTIONS: Record<string, OptionSpec> = {
  tag: { type: "string", multiple: true, value: "NAME=VALUE", doc: "a tag of the message" },
  data: { type: "string", value: "TEXT", doc: "the message's data, as UTF-8 text (default: empty)" },
};

/** The message the options describe; a tag without `=` or a name given twice is a usage error. */
export function messageOf(values: Values): Message {
  const tags = new Map<string, string>();
  const given = values.tag;
  for (const tag of Array.isArray(given) ? given : []) {
    const at = tag.indexOf("=");
    if (at <= 0) throw new UsageError(`--tag takes NAME=VALUE, got ${JSON.stringify(tag)}`);
    const name = tag.slice(0, at);
    if (tags.has(name)) throw new UsageError(`tag ${JSON.stringify(name)} given twice`);
    tags.set(name, tag.slice(at + 1));
  }
  return { tags, data: Buffer.from(stringOption(values, "data") ?? "", "utf8") };
}
