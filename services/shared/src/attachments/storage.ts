/**
 * The object store that attachments live in: any S3-compatible service (AWS S3, Cloudflare R2, MinIO,
 * SeaweedFS, Ceph RGW; versitygw locally) through the AWS SDK v3. The services only sign, check and
 * describe objects; clients upload and download the bytes straight to and from the store.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { z } from "zod";

import { boolVar } from "../config.js";
import type { Logger } from "../logger.js";

/** The storage settings, read by every service that touches attachments (gateway, API, worker). */
export const storageConfigShape = {
  /**
   * Bucket of the attachments. Unset: attachments are off (creating one answers `FORBIDDEN`).
   * @default unset
   */
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name (3 to 63 lowercase letters, digits, '.' or '-')").optional(),
  /**
   * Endpoint the services reach the store at. Unset: AWS S3 in `S3_REGION`.
   * @default unset
   */
  S3_ENDPOINT: z.url().optional(),
  /**
   * Endpoint that clients upload to and download from, when it differs from `S3_ENDPOINT` (a store on a
   * private network behind a public name). Presigned URLs name it.
   * @default `S3_ENDPOINT`
   */
  S3_PUBLIC_ENDPOINT: z.url().optional(),
  /**
   * Region that requests are signed for.
   * @default "us-east-1"
   */
  S3_REGION: z.string().regex(/^[a-z0-9-]{1,32}$/, "must be a region name such as us-east-1").default("us-east-1"),
  /**
   * Access key. Unset with `S3_SECRET_ACCESS_KEY`: the AWS SDK's default credential chain (instance
   * roles, `AWS_*` variables, web identity).
   * @default unset
   */
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  /** Secret of `S3_ACCESS_KEY_ID`. @default unset */
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /**
   * Path-style URLs (`https://host/bucket/key`) instead of virtual-hosted ones
   * (`https://bucket.host/key`): MinIO, SeaweedFS, Ceph RGW and versitygw need them.
   * @default false
   */
  S3_FORCE_PATH_STYLE: boolVar.default(false),
} as const;

/** The validated settings of {@link storageConfigShape}. */
export type StorageConfig = z.output<z.ZodObject<typeof storageConfigShape>>;

/** Cross-check for each service schema's `superRefine`: the key and its secret come together. */
export function checkStorageConfig(config: Partial<Pick<StorageConfig, "S3_ACCESS_KEY_ID" | "S3_SECRET_ACCESS_KEY">>, ctx: z.RefinementCtx): void {
  if ((config.S3_ACCESS_KEY_ID === undefined) === (config.S3_SECRET_ACCESS_KEY === undefined)) return;
  const missing = config.S3_ACCESS_KEY_ID === undefined ? "S3_ACCESS_KEY_ID" : "S3_SECRET_ACCESS_KEY";
  ctx.addIssue({ code: "custom", path: [missing], message: "must be set together with S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY" });
}

/** What {@link ObjectStorage.head} found. */
export interface StoredObject {
  size: number;
  contentType: string | undefined;
}

/** A presigned request. */
export interface PresignedRequest {
  url: string;
  /** Headers the request must carry exactly as given (they are part of the signature). */
  headers: Record<string, string>;
  expiresAt: Date;
}

/** The store, for one bucket. */
export class ObjectStorage {
  /** Reaches the store (`S3_ENDPOINT`). */
  private readonly client: S3Client;
  /** Signs the URLs clients use (`S3_PUBLIC_ENDPOINT`); signing is local, it never sends a request. */
  private readonly signer: S3Client;

  constructor(
    readonly bucket: string,
    config: Omit<StorageConfig, "S3_BUCKET">,
  ) {
    const base: S3ClientConfig = {
      region: config.S3_REGION,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      ...(config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
        ? { credentials: { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY } }
        : {}),
      // Otherwise the SDK puts a CRC32 of the (absent) body into presigned PUT URLs, which then fit only
      // an empty upload; checksums stay on where S3 requires them.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 3,
    };
    this.client = new S3Client({ ...base, ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}) });
    const publicEndpoint = config.S3_PUBLIC_ENDPOINT ?? config.S3_ENDPOINT;
    this.signer = new S3Client({ ...base, ...(publicEndpoint ? { endpoint: publicEndpoint } : {}) });
  }

  /**
   * A presigned `PUT` of `key` that the store accepts only with exactly `size` bytes of `contentType`:
   * both are signed headers, so a longer, shorter or retyped body is refused with `403`.
   */
  async presignUpload(key: string, size: number, contentType: string, expiresInSeconds: number): Promise<PresignedRequest> {
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentLength: size, ContentType: contentType });
    const url = await getSignedUrl(this.signer, command, {
      expiresIn: expiresInSeconds,
      // The presigner signs Content-Length when given, Content-Type only when told to.
      signableHeaders: new Set(["content-type"]),
    });
    return { url, headers: { "Content-Type": contentType }, expiresAt: new Date(Date.now() + expiresInSeconds * 1000) };
  }

  /**
   * A presigned `GET` of `key` that answers with `contentType` and `Content-Disposition: disposition`,
   * whatever the object was uploaded with.
   */
  async presignDownload(key: string, options: { contentType: string; disposition: string; expiresInSeconds: number }): Promise<PresignedRequest> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentType: options.contentType,
      ResponseContentDisposition: options.disposition,
    });
    const url = await getSignedUrl(this.signer, command, { expiresIn: options.expiresInSeconds });
    return { url, headers: {}, expiresAt: new Date(Date.now() + options.expiresInSeconds * 1000) };
  }

  /** The object's size and type, or undefined when there is none at `key`. */
  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: head.ContentLength ?? 0, contentType: head.ContentType };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** The first `length` bytes of the object (fewer when it is shorter), or undefined when there is none. */
  async readStart(key: string, length: number): Promise<Uint8Array | undefined> {
    return this.read(key, `bytes=0-${length - 1}`);
  }

  /** The whole object, or undefined when there is none. */
  async read(key: string, range?: string): Promise<Uint8Array | undefined> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: range } : {}) }));
      return object.Body ? await object.Body.transformToByteArray() : new Uint8Array();
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async write(key: string, body: Uint8Array, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, ContentLength: body.byteLength }));
  }

  /** Deletes the objects at `keys`; a key with no object is not an error. */
  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const answer = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }),
      );
      const failed = (answer.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
      if (failed.length > 0) throw new Error(`could not delete ${failed.length} object(s): ${failed[0]?.Code} ${failed[0]?.Message}`);
    }
  }

  close(): void {
    this.client.destroy();
    this.signer.destroy();
  }
}

/** Whether `err` says the object does not exist. */
function isMissing(err: unknown): boolean {
  if (err instanceof NotFound) return true;
  return err instanceof S3ServiceException && (err.name === "NoSuchKey" || err.name === "NotFound" || err.$metadata.httpStatusCode === 404);
}

/** The Node.js major that the AWS SDK's releases from January 2027 require. */
const SDK_NODE_MAJOR = 22;

/**
 * The store of `config`, or undefined when attachments are off (no `S3_BUCKET`). On Node.js before
 * {@link SDK_NODE_MAJOR}, the SDK's own notice of that would be a plain line on stderr in the middle of
 * the JSON logs: it is logged once as a structured warning instead.
 */
export function createObjectStorage(config: StorageConfig, log: Logger): ObjectStorage | undefined {
  const { S3_BUCKET, ...rest } = config;
  if (!S3_BUCKET) return undefined;
  if (Number(process.versions.node.split(".")[0]) < SDK_NODE_MAJOR) {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    log.warn(
      { node: process.version },
      `AWS SDK releases from January 2027 require Node.js ${SDK_NODE_MAJOR}: the locked version runs here, but upgrade Node.js before upgrading it`,
    );
  }
  return new ObjectStorage(S3_BUCKET, rest);
}
