import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two test files at a time (vitest's default on a 2-core machine is one): most files wait on
    // child processes (programs, browsers, editors, Python) for much of their time.
    maxWorkers: 2,
  },
});
