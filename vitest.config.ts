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
    // Half again as many test files at once as there are cores: many files mostly wait (on
    // child servers, real deadlines, PostgreSQL), so on CI's two cores three workers finish
    // the suite in about two thirds of the time two take (139 s against 210 s here).
    maxWorkers: "150%",
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
