/**
 * The local S3-compatible object store: versitygw (built from infra/versitygw by `scripts/setup.mjs`
 * into .cache/bin) serving a directory through its POSIX backend, one bucket created at start. For
 * `npm start` and the integration tests, as FerretDB stands in for MongoDB; production points the
 * services at any S3 implementation instead.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

import { CreateBucketCommand, DeleteBucketCorsCommand, HeadBucketCommand, PutBucketCorsCommand, S3Client } from "@aws-sdk/client-s3";

import { VERSITYGW } from "./paths.js";
import { freePort } from "./ports.js";
import { ManagedProcess, isOk } from "./process.js";

export interface ObjectStoreOptions {
  /** Directory for the objects (`<dir>/buckets/<bucket>/<key>`, metadata in extended attributes) and the log. */
  dir: string;
  /** Port on 127.0.0.1. @default a free port */
  port?: number;
  /** Bucket created at start, unless it exists. */
  bucket: string;
  /** The store's root credentials, which the services sign with. */
  accessKey: string;
  secretKey: string;
  /** Region the store answers for and signatures name. @default "us-east-1" */
  region?: string;
  /**
   * Origins that browsers may upload from and download to (`PUT`, `GET`, `HEAD`): the bucket's CORS
   * rules, replaced at every start. Empty: no CORS rules, so cross-origin requests are refused.
   * @default []
   */
  corsOrigins?: readonly string[];
}

export interface ObjectStore {
  /** `http://127.0.0.1:<port>`: use path-style addressing (`forcePathStyle: true`). */
  endpoint: string;
  port: number;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Path that versitygw answers `200 OK` on, unauthenticated, once it serves requests. */
const HEALTH_PATH = "/health";

/** How long a browser may cache a preflight's answer, in seconds. */
const CORS_MAX_AGE_SECONDS = 3600;

/** An S3 client for `store`, as the services will make one. */
export function objectStoreClient(store: Pick<ObjectStore, "endpoint" | "region" | "accessKeyId" | "secretAccessKey">): S3Client {
  // The SDK's notice that its releases from 2027 need Node.js 22 is for the services, which log it
  // themselves (createObjectStorage); the local tooling runs the locked version.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({
    endpoint: store.endpoint,
    region: store.region,
    credentials: { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey },
    forcePathStyle: true,
    // Otherwise the SDK puts a CRC32 of the (absent) body into presigned PUT URLs, which then fit only an
    // empty upload; checksums stay on where S3 requires them.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Starts versitygw on `dir`, waits until it answers, and creates `bucket` (with its CORS rules). */
export async function startObjectStore(options: ObjectStoreOptions): Promise<ObjectStore> {
  const { dir, bucket, accessKey, secretKey, region = "us-east-1", corsOrigins = [] } = options;
  if (!existsSync(VERSITYGW)) throw new Error(`${VERSITYGW} is missing: run \`npm run setup\` to build it`);
  const root = join(dir, "buckets");
  mkdirSync(root, { recursive: true });
  const port = options.port ?? (await freePort());
  const proc = new ManagedProcess({
    name: `versitygw :${port}`,
    command: VERSITYGW,
    args: ["--port", `127.0.0.1:${port}`, "--region", region, "--health", HEALTH_PATH, "--quiet", "posix", root],
    // Not flags: they would show in `ps`.
    env: { ...process.env, ROOT_ACCESS_KEY_ID: accessKey, ROOT_SECRET_ACCESS_KEY: secretKey },
    logFile: join(dir, "versitygw.log"),
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const store: ObjectStore = {
    endpoint,
    port,
    bucket,
    accessKeyId: accessKey,
    secretAccessKey: secretKey,
    region,
    process: proc,
    stop: () => proc.stop(),
  };
  const client = objectStoreClient(store);
  try {
    await proc.waitUntil(() => isOk(`${endpoint}${HEALTH_PATH}`), 30_000, "answering");
    await ensureBucket(client, bucket);
    if (corsOrigins.length === 0) await client.send(new DeleteBucketCorsCommand({ Bucket: bucket }));
    else {
      await client.send(
        new PutBucketCorsCommand({
          Bucket: bucket,
          CORSConfiguration: {
            CORSRules: [{
              AllowedOrigins: [...corsOrigins],
              AllowedMethods: ["PUT", "GET", "HEAD"],
              AllowedHeaders: ["*"],
              ExposeHeaders: ["ETag", "Content-Length", "Content-Type"],
              MaxAgeSeconds: CORS_MAX_AGE_SECONDS,
            }],
          },
        }),
      );
    }
  } catch (err) {
    await proc.stop();
    throw err;
  } finally {
    client.destroy();
  }
  return store;
}

/** Creates `bucket` unless it exists already (a restart on the same data). */
async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}
