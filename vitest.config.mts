import { defineConfig } from "vitest/config";

// Tests run on the wasm backend (TFJS_BACKEND may force another). Each file is its own process
// (tfjs keeps global engine state), and numeric tests get generous time on a shared 2-core box.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
