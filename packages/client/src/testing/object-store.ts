/**
 * A stand-in for the object store in unit tests: a real HTTP server on a free loopback port that takes
 * presigned-style `PUT`s (any path), keeps their bodies, answers CORS preflights like the real store,
 * and can refuse or hold uploads. Not part of the build.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the store received. */
export interface StoreRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body, once complete (PUT). */
  body?: Uint8Array;
  /** The status answered; undefined while held, or when the client went away first. */
  status?: number;
  /** The client closed the request before it was answered. */
  aborted: boolean;
}

/** A running fake store. */
export interface FakeObjectStore {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Every request, in arrival order. */
  readonly requests: StoreRequest[];
  /** Bodies of the successful uploads, by path. */
  readonly objects: Map<string, Uint8Array>;
  /** Answers the next upload(s) with `status` instead of storing them; with `path`, only uploads to it. */
  refuse(status: number, options?: { path?: string; times?: number }): void;
  /** Reads each upload's body at most `bytesPerTick` every `tickMs`, as a slow network would. */
  throttle(bytesPerTick: number, tickMs: number): void;
  /** Leaves the next upload unanswered; the promise resolves with it once the client went away. */
  holdNext(): Promise<StoreRequest>;
  /** Resolves with the next request that matches, past or future. */
  next(match: (r: StoreRequest) => boolean, ms?: number): Promise<StoreRequest>;
  /** Serves other requests (a page, an API) from the same origin. */
  fallback?: (req: IncomingMessage, res: ServerResponse, body: Uint8Array) => void;
  close(): Promise<void>;
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "PUT, GET",
  "access-control-allow-headers": "content-type",
  "access-control-max-age": "60",
};

/** Starts a fake store on a free port of 127.0.0.1. */
export async function startObjectStore(): Promise<FakeObjectStore> {
  const requests: StoreRequest[] = [];
  const objects = new Map<string, Uint8Array>();
  const refusals: { status: number; path?: string; times: number }[] = [];
  const watchers = new Set<() => void>();
  let holding: ((r: StoreRequest) => void) | undefined;
  let slow: { bytes: number; ms: number } | undefined;
  const changed = (): void => {
    for (const w of [...watchers]) w();
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const record: StoreRequest = { method: req.method ?? "GET", path, headers: req.headers, aborted: false };
    requests.push(record);
    res.on("close", () => {
      if (!res.writableFinished) {
        record.aborted = true;
        changed();
      }
    });
    changed();
    if (req.method === "OPTIONS") return void res.writeHead(204, CORS).end();
    if (req.method !== "PUT") {
      return void readBody(req, undefined).then((body) => {
        if (store.fallback) store.fallback(req, res, body);
        else res.writeHead(404, CORS).end();
      });
    }
    const held = holding;
    holding = undefined;
    if (held) {
      res.on("close", () => held(record));
      return void req.resume();
    }
    void readBody(req, slow).then(
      (body) => {
        record.body = body;
        const refusal = refusals.find((r) => r.path === undefined || r.path === path);
        if (refusal) {
          if (--refusal.times === 0) refusals.splice(refusals.indexOf(refusal), 1);
          record.status = refusal.status;
          res.writeHead(refusal.status, { ...CORS, "content-type": "application/xml" }).end("<Error><Code>AccessDenied</Code></Error>");
        } else {
          objects.set(path, body);
          record.status = 200;
          res.writeHead(200, { ...CORS, etag: '"fake"' }).end();
        }
        changed();
      },
      () => undefined,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const store: FakeObjectStore = {
    url: `http://127.0.0.1:${port}`,
    requests,
    objects,
    refuse: (status, { path, times = 1 } = {}) => void refusals.push({ status, times, ...(path !== undefined && { path }) }),
    throttle: (bytes, ms) => void (slow = { bytes, ms }),
    holdNext: () => new Promise((resolve) => (holding = resolve)),
    next: (match, ms = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const found = requests.find((r) => match(r));
          if (!found) return;
          watchers.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`the store got no such request: ${JSON.stringify(requests.map((r) => [r.method, r.path, r.status]))}`));
        }, ms);
        watchers.add(check);
        check();
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return store;
}

/** The whole body of `req`; with `slow`, read at most `slow.bytes` every `slow.ms`. */
function readBody(req: IncomingMessage, slow: { bytes: number; ms: number } | undefined): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let inTick = 0;
    req.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (!slow) return;
      inTick += chunk.length;
      if (inTick < slow.bytes) return;
      inTick = 0;
      req.pause();
      setTimeout(() => req.resume(), slow.ms);
    });
    req.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on("error", reject);
  });
}
