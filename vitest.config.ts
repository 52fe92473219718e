import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // Integration tests start real processes (redis-server, gateways, nginx): give them room.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    pool: "forks",
    // Two cores: two test files at a time, each with its own cluster, keeps the machine responsive.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: process.env.CI ? ["verbose"] : ["default"],
  },
});
