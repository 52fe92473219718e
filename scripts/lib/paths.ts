/** Where the project keeps what it builds and runs: everything under git-ignored folders of the repo. */
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Downloaded and built tools (FerretDB launcher, versitygw, k6, Go caches). */
export const CACHE_DIR = join(ROOT, ".cache");
/** Data of the local cluster (`npm start`): FerretDB files, Redis dumps. */
export const DATA_DIR = join(ROOT, ".data");
/** Logs and generated configs of running clusters and test runs. */
export const RUN_DIR = join(ROOT, ".run");
/** Set by the test run's global setup: where its clusters and redis-servers keep their logs. */
export const TEST_DIR_ENV = "PARLEY_TEST_DIR";
export const FERRETDB_LAUNCHER = join(CACHE_DIR, "bin", "ferretdb-launcher");
/** The local S3-compatible object store (see object-store.ts). */
export const VERSITYGW = join(CACHE_DIR, "bin", "versitygw");

export const SERVICE_ENTRY = {
  gateway: join(ROOT, "services/gateway/dist/index.js"),
  api: join(ROOT, "services/api/dist/index.js"),
  worker: join(ROOT, "services/worker/dist/index.js"),
} as const;
