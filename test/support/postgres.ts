/**
 * PostgreSQL for tests. Files named `*.pg.test.ts` run in the vitest project `postgres`,
 * whose global setup (postgres-global-setup.ts) starts one server for the whole run; a file
 * takes a fresh database of it with createTestDatabase(). A test that must take its server
 * down (an outage) starts one of its own with startPrivatePostgres(): stopping the shared
 * one would break every other file running at the same time.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import type { ProvidedPostgres } from "./postgres-global-setup.js";
import { startPostgresServer, type PostgresServer } from "./postgres-server.js";

export type { PostgresServer } from "./postgres-server.js";

/** A database created for a test file; drop() removes it (cutting its connections). */
export interface TestDatabase {
  name: string;
  /** Its connection URL, for openPostgresStore({ url }) or `--database-url`. */
  url: string;
  drop(): Promise<void>;
}

function provided(): ProvidedPostgres {
  const postgres = inject("postgres") as ProvidedPostgres | undefined;
  if (postgres === undefined) {
    throw new Error("PostgreSQL is only set up for test files named *.pg.test.ts (vitest project 'postgres')");
  }
  return postgres;
}

/** `url` with its database replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Runs one statement on its own connection to `url` and returns the rows. */
export async function query<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined); // a server stopped under it: the query rejects
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Creates a fresh, empty database on the server whose admin URL is `adminUrl` (by default
 * the run's shared server), named `pw_<random>` unless `name` is given. */
export async function createTestDatabase(adminUrl = provided().adminUrl, name?: string): Promise<TestDatabase> {
  const database = name ?? `pw_${randomBytes(6).toString("hex")}`;
  const quoted = pg.escapeIdentifier(database);
  await query(adminUrl, `CREATE DATABASE ${quoted}`);
  return {
    name: database,
    url: withDatabase(adminUrl, database),
    drop: async () => {
      await query(adminUrl, `DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`);
    },
  };
}

/** Starts a PostgreSQL server for the calling test alone (~0.2 s, a copy of the run's
 * template cluster) to stop() and start() at will; destroy() it at the end. */
export function startPrivatePostgres(): Promise<PostgresServer> {
  return startPostgresServer(provided().template);
}
