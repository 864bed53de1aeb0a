/**
 * The options of a server under the wire fuzzer: small limits, so that inputs at and past
 * them (a message of max_message_bytes, max_schedule_messages + 1 messages) are cheap enough
 * to send thousands of, and small caches, so that memory bounds show within a short run.
 */
import { envOf, type Config, type OptionName } from "../../../src/core/config.js";

/** The limits the inputs aim at. */
export const FUZZ_LIMITS = {
  maxMessageBytes: 256 * 1024,
  maxScheduleMessages: 100,
  maxRequestTags: 1000,
};

/** Everything the fuzzed server runs with beyond its defaults. */
export const FUZZ_SERVER: Partial<Config> = {
  ...FUZZ_LIMITS,
  // A slow slot (Delay-Ms) or a looping module fails fast rather than holding its process.
  slotTimeLimitMs: 250,
  definitionCacheBytes: 4 * 1024 * 1024,
  moduleCacheBytes: 8 * 1024 * 1024,
};

const NAMES: Record<string, OptionName> = {
  maxMessageBytes: "max_message_bytes",
  maxScheduleMessages: "max_schedule_messages",
  maxRequestTags: "max_request_tags",
  slotTimeLimitMs: "slot_time_limit_ms",
  definitionCacheBytes: "definition_cache_bytes",
  moduleCacheBytes: "module_cache_bytes",
};

/** FUZZ_SERVER as environment variables, for a server in a child process. */
export function fuzzServerEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(FUZZ_SERVER).map(([key, value]) => [envOf(NAMES[key]!), String(value)]));
}
