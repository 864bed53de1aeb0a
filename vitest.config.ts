import { configDefaults, defineConfig } from "vitest/config";

// Two projects share these settings. Files named `*.pg.test.ts` form the `postgres` project,
// whose global setup starts one PostgreSQL for the run (test/support/postgres.ts), so a run
// that selects none of them starts no PostgreSQL.
const PG_TESTS = "test/**/*.pg.test.ts";

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: { name: "main", include: ["test/**/*.test.ts"], exclude: [...configDefaults.exclude, PG_TESTS] },
      },
      {
        extends: true,
        test: { name: "postgres", include: [PG_TESTS], globalSetup: ["test/support/postgres-global-setup.ts"] },
      },
    ],
  },
});
