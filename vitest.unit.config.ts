// `npm run test:unit`: the pure tests, with nothing started (no PostgreSQL, no Redis).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    pool: "forks",
  },
});
