/**
 * The local object store (versitygw, scripts/lib/object-store.ts) does what attachments rely on, with
 * the AWS SDK v3 on one side and plain `fetch`, as a browser sends, on the other: presigned PUT and
 * GET (SigV4 query authentication) bound to the signed size, type and lifetime, HEAD, DELETE, and CORS
 * for a page on another origin.
 */
import { randomBytes } from "node:crypto";

import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { objectStoreClient, startObjectStore, type ObjectStore } from "../../scripts/lib/object-store.js";
import { testDir, uniqueSuffix } from "../helpers/env.js";

/** The page's origin that the bucket's CORS rules allow. */
const ORIGIN = "http://localhost:8080";
const SIZE = 100_000;
const TYPE = "image/png";

let store: ObjectStore;
let s3: S3Client;

beforeAll(async () => {
  store = await startObjectStore({
    dir: testDir("object-store"),
    bucket: `t-attachments-${uniqueSuffix()}`.toLowerCase(),
    accessKey: "parley-test",
    secretKey: "parley-test-secret-key",
    corsOrigins: [ORIGIN],
  });
  s3 = objectStoreClient(store);
});

afterAll(async () => {
  s3?.destroy();
  await store?.stop();
});

let keys = 0;
/** A key no other test uses, as the server will choose them. */
function newKey(): string {
  return `uploads/${uniqueSuffix()}-${++keys}`;
}

/**
 * A presigned PUT of exactly `size` bytes of `type` to `key`, valid for `expiresIn` seconds from
 * `signedAt`. The S3 presigner leaves Content-Type unsigned unless told to sign it; Content-Length
 * it signs when given.
 */
function presignPut(key: string, size = SIZE, type = TYPE, expiresIn = 300, signedAt = new Date()): Promise<string> {
  return getSignedUrl(s3, new PutObjectCommand({ Bucket: store.bucket, Key: key, ContentLength: size, ContentType: type }), {
    expiresIn,
    signingDate: signedAt,
    signableHeaders: new Set(["content-type"]),
  });
}

function presignGet(key: string, expiresIn = 300, signedAt = new Date()): Promise<string> {
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: store.bucket, Key: key }), { expiresIn, signingDate: signedAt });
}

/** Uploads `body` to a presigned URL as a browser's `fetch` does (it sets Content-Length itself). */
function upload(url: string, body: Uint8Array, type = TYPE, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "PUT", body, headers: { "content-type": type, ...extra }, signal: AbortSignal.timeout(10_000) });
}

/** Whether `key` exists (HEAD through the SDK); any answer but 404 fails the test. */
async function exists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

/** Reads a refused response: its status and S3 error code. */
async function refusal(res: Response): Promise<{ status: number; code: string | undefined }> {
  const text = await res.text();
  return { status: res.status, code: /<Code>([^<]+)<\/Code>/.exec(text)?.[1] };
}

describe("presigned uploads and downloads", () => {
  it("a presigned PUT signs size and type (no body checksum), and the upload is stored as signed", async () => {
    const key = newKey();
    const url = new URL(await presignPut(key));
    expect(url.searchParams.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    expect(url.searchParams.get("X-Amz-SignedHeaders")?.split(";")).toEqual(["content-length", "content-type", "host"]);
    expect([...url.searchParams.keys()].filter((name) => name.toLowerCase().includes("checksum"))).toEqual([]);

    const bytes = randomBytes(SIZE);
    const res = await upload(url.toString(), bytes);
    expect(res.status, await res.text()).toBe(200);

    const head = await s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }));
    expect(head.ContentLength).toBe(SIZE);
    expect(head.ContentType).toBe(TYPE);

    const got = await fetch(await presignGet(key), { signal: AbortSignal.timeout(10_000) });
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe(TYPE);
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("refuses an upload whose size differs from the signed one, larger or smaller, and stores nothing", async () => {
    const key = newKey();
    const url = await presignPut(key);
    for (const size of [SIZE + 1, SIZE - 1]) {
      expect(await refusal(await upload(url, randomBytes(size)))).toEqual({ status: 403, code: "SignatureDoesNotMatch" });
    }
    expect(await exists(key)).toBe(false);
  });

  it("refuses an upload of another type than the signed one", async () => {
    const key = newKey();
    const res = await upload(await presignPut(key), randomBytes(SIZE), "text/html");
    expect(await refusal(res)).toEqual({ status: 403, code: "SignatureDoesNotMatch" });
    expect(await exists(key)).toBe(false);
  });

  it("refuses expired presigned URLs, for upload and download", async () => {
    const key = newKey();
    const anHourAgo = new Date(Date.now() - 3_600_000);
    const put = await upload(await presignPut(key, SIZE, TYPE, 60, anHourAgo), randomBytes(SIZE));
    expect(await refusal(put)).toEqual({ status: 403, code: "AccessDenied" });
    expect(await exists(key)).toBe(false);

    await s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: randomBytes(10), ContentType: TYPE }));
    const get = await fetch(await presignGet(key, 60, anHourAgo), { signal: AbortSignal.timeout(10_000) });
    expect(await refusal(get)).toEqual({ status: 403, code: "AccessDenied" });
    // The same download, signed now, passes: only the expiry refused it.
    expect((await fetch(await presignGet(key), { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
  });

  it("DELETE removes the object: HEAD and a presigned GET then answer 404", async () => {
    const key = newKey();
    expect((await upload(await presignPut(key), randomBytes(SIZE))).status).toBe(200);
    await s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: key }));
    expect(await exists(key)).toBe(false);
    expect(await refusal(await fetch(await presignGet(key), { signal: AbortSignal.timeout(10_000) }))).toEqual({ status: 404, code: "NoSuchKey" });
  });
});

describe("CORS for a page on another origin", () => {
  /** A browser's preflight before a cross-origin `method` with a Content-Type header. */
  function preflight(url: string, origin: string, method: string): Promise<Response> {
    return fetch(url, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": method, "access-control-request-headers": "content-type" },
      signal: AbortSignal.timeout(10_000),
    });
  }

  it("answers the preflight of an allowed origin's PUT and GET, and marks the real responses for it", async () => {
    const key = newKey();
    const putUrl = await presignPut(key);
    for (const method of ["PUT", "GET"]) {
      const res = await preflight(putUrl, ORIGIN, method);
      await res.body?.cancel();
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBe(ORIGIN);
      expect(res.headers.get("access-control-allow-methods")?.split(/,\s*/)).toContain(method);
      expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type");
    }

    const put = await upload(putUrl, randomBytes(SIZE), TYPE, { origin: ORIGIN });
    await put.body?.cancel();
    expect(put.status).toBe(200);
    expect(put.headers.get("access-control-allow-origin")).toBe(ORIGIN);

    const get = await fetch(await presignGet(key), { headers: { origin: ORIGIN }, signal: AbortSignal.timeout(10_000) });
    expect((await get.arrayBuffer()).byteLength).toBe(SIZE);
    expect(get.headers.get("access-control-allow-origin")).toBe(ORIGIN);
  });

  it("refuses the preflight of an origin it does not list", async () => {
    const res = await preflight(await presignPut(newKey()), "http://evil.example", "PUT");
    expect(await refusal(res)).toEqual({ status: 403, code: "AccessForbidden" });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
