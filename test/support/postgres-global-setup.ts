/**
 * Vitest global setup of the `postgres` project (files named `*.pg.test.ts`): one
 * PostgreSQL server for the whole run, started before the first such file and stopped,
 * with all its files, after the last. Tests reach it through test/support/postgres.ts, which
 * reads what is provided here. With PROCWORKER_TEST_POSTGRES_URL set (a superuser URL of a
 * server of your own), that server is used instead of an embedded one.
 */
import type { TestProject } from "vitest/node";
import { createPostgresTemplate, startPostgresServer } from "./postgres-server.js";

/** What the tests get through `inject("postgres")`. */
export interface ProvidedPostgres {
  /** A URL of the shared server's `postgres` database, as a role that may create databases. */
  adminUrl: string;
  /** The template cluster private servers are copied from (see postgres-server.ts). */
  template: { dataDir: string; password: string };
}

declare module "vitest" {
  export interface ProvidedContext {
    postgres: ProvidedPostgres;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const template = await createPostgresTemplate();
  const external = process.env.PROCWORKER_TEST_POSTGRES_URL;
  const server = external
    ? undefined
    : await startPostgresServer(template).catch(async (error: unknown) => {
        await template.remove();
        throw error;
      });
  project.provide("postgres", {
    adminUrl: external || server!.url(),
    template: { dataDir: template.dataDir, password: template.password },
  });
  return async () => {
    await server?.destroy();
    await template.remove();
  };
}
