import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { defaultConfig, envOf, flagOf, loggableConfig, OPTIONS, parseConfig } from "../../../src/core/config.js";

describe("configuration", () => {
  it("has the documented defaults", () => {
    const c = defaultConfig();
    expect(c).toMatchObject({
      host: "127.0.0.1",
      port: 50051,
      dataDir: "./data",
      processWorkers: true,
      processWorkerMaxIdle: 300_000,
      maxAwaitMs: 60_000,
      logLevel: "info",
    });
    expect(c.wasmThreads).toBeGreaterThan(0);
  });

  it("names every option's flag and variable by one rule", () => {
    expect(flagOf("process_worker_max_idle")).toBe("--process-worker-max-idle");
    expect(envOf("process_worker_max_idle")).toBe("PROCWORKER_PROCESS_WORKER_MAX_IDLE");
    for (const name of Object.keys(OPTIONS))
      expect(OPTIONS[name as keyof typeof OPTIONS].doc.length).toBeGreaterThan(5);
  });

  it("reads variables, and flags win over them", () => {
    const env = { PROCWORKER_PORT: "7000", PROCWORKER_PROCESS_WORKERS: "false", PROCWORKER_LOG_LEVEL: "debug" };
    expect(parseConfig([], env).config).toMatchObject({ port: 7000, processWorkers: false, logLevel: "debug" });
    const { config, rest } = parseConfig(["--port", "7001", "--process-workers", "--data-dir=/tmp/x", "extra"], env);
    expect(config).toMatchObject({ port: 7001, processWorkers: true, dataDir: "/tmp/x", logLevel: "debug" });
    expect(rest).toEqual(["extra"]);
  });

  it("takes a boolean as a bare flag, inline, or followed by a boolean word", () => {
    const env = { PROCWORKER_PROCESS_WORKERS: "true" };
    expect(parseConfig(["--process-workers=off"], env).config.processWorkers).toBe(false);
    expect(parseConfig(["--process-workers", "false", "--port", "1"], env)).toMatchObject({
      config: { processWorkers: false, port: 1 },
      rest: [],
    });
    expect(parseConfig(["--process-workers", "extra"], { PROCWORKER_PROCESS_WORKERS: "no" })).toMatchObject({
      config: { processWorkers: true },
      rest: ["extra"],
    });
    expect(parseConfig(["--", "--port"], {}).rest).toEqual(["--port"]);
  });

  it("refuses unknown options and bad values, naming the option", () => {
    expect(() => parseConfig(["--nope", "1"], {})).toThrow(/unknown option --nope/);
    expect(() => parseConfig(["--port", "seventy"], {})).toThrow(/port.*whole number/);
    expect(() => parseConfig(["--port", "70000"], {})).toThrow(/at most 65535/);
    expect(() => parseConfig([], { PROCWORKER_PROCESS_WORKERS: "maybe" })).toThrow(/PROCWORKER_PROCESS_WORKERS/);
    expect(() => parseConfig(["--log-level", "loud"], {})).toThrow(/log_level/);
    expect(() => parseConfig(["--subscriber-buffer", "8"], {})).toThrow(/at least 64/);
    expect(() => parseConfig(["--port"], {})).toThrow(/option --port needs a value/);
    expect(() => parseConfig(["--host", "--port", "1"], {})).toThrow(/option --host needs a value/);
    expect(() => parseConfig(["-p", "1"], {})).toThrow(/unknown option -p$/);
    expect(() => parseConfig(["--process-workers=maybe"], {})).toThrow(
      /option process_workers \(--process-workers \/ PROCWORKER_PROCESS_WORKERS\): expected true or false/,
    );
  });
});

describe("database_url", () => {
  it("is empty (LMDB) by default, set by flag or variable, and logged without its password", () => {
    expect(defaultConfig().databaseUrl).toBe("");
    const url = "postgres://pw:s3cr%40t@db.example:5432/procworker?sslmode=require";
    expect(parseConfig([], { PROCWORKER_DATABASE_URL: url }).config.databaseUrl).toBe(url);
    expect(parseConfig(["--database-url", url], {}).config.databaseUrl).toBe(url);
    expect(loggableConfig(defaultConfig({ databaseUrl: url })).databaseUrl).toBe(
      "postgres://pw:***@db.example:5432/procworker?sslmode=require",
    );
    expect(loggableConfig(defaultConfig({ databaseUrl: "not a url s3cret" })).databaseUrl).toBe("(not a URL)");
    expect(loggableConfig(defaultConfig())).toEqual(defaultConfig());
  });
});

describe("README's option table", () => {
  it("lists every option, in order, with its default", async () => {
    const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
    const rows = [...readme.matchAll(/^\| `([a-z_]+)` \| `([^`]*)` \|/gm)].map((m) => [m[1], m[2]]);
    const expected = Object.entries(OPTIONS).map(([name, spec]) => [
      name,
      spec.default === "" ? '""' : String(spec.default),
    ]);
    expect(rows).toEqual(expected);
  });
});

describe("limits and access options", () => {
  it("have documented defaults and follow the one naming rule", () => {
    expect(defaultConfig()).toMatchObject({
      definitionCacheBytes: 64 * 1024 * 1024,
      moduleCacheBytes: 256 * 1024 * 1024,
      maxScheduleMessages: 1000,
      maxRequestTags: 10_000,
      tlsCert: "",
      tlsKey: "",
      tlsClientCa: "",
      authTokensFile: "",
    });
    const env = { PROCWORKER_DEFINITION_CACHE_BYTES: "1000", PROCWORKER_AUTH_TOKENS_FILE: "/etc/tokens" };
    expect(parseConfig(["--module-cache-bytes", "2000", "--tls-cert=/c.pem"], env).config).toMatchObject({
      definitionCacheBytes: 1000,
      moduleCacheBytes: 2000,
      tlsCert: "/c.pem",
      authTokensFile: "/etc/tokens",
    });
    expect(() => parseConfig(["--max-schedule-messages", "0"], {})).toThrow(/at least 1/);
  });
});
