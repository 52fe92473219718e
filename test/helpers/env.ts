/** Per-test-file resources: a database, a scratch directory, a secret. */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { inject } from "vitest";

import { withDatabase } from "../../scripts/lib/ferretdb.js";
import { RUN_DIR, TEST_DIR_ENV } from "../../scripts/lib/paths.js";

/** A short random suffix for names that must not collide between test files or runs. */
export function uniqueSuffix(): string {
  return randomBytes(4).toString("hex");
}

/** A MongoDB URL with a database of its own. */
export function testMongoUrl(label: string): string {
  return withDatabase(inject("mongoUri"), `t_${label.replace(/[^A-Za-z0-9]/g, "_")}_${uniqueSuffix()}`);
}

/** A fresh scratch directory of this test run (`.run/test-<pid>/tests/…`), kept after the run for logs. */
export function testDir(label: string): string {
  const dir = join(process.env[TEST_DIR_ENV] ?? join(RUN_DIR, "tests"), `${label}-${uniqueSuffix()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A JWT secret for one test file. */
export const TEST_JWT_SECRET = "test-secret-that-is-at-least-32-characters-long";
