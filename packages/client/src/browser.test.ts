/**
 * The SDK in a real browser (headless Chromium): the package bundles for the browser, and the
 * IndexedDB outbox keeps a message written before a page reload, which the next page load sends; a
 * file too (IndexedDB keeps the Blob), uploaded with XMLHttpRequest and its progress, cross-origin.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { CHROMIUM, CHROMIUM_ARGS } from "../../../scripts/lib/chromium.js";
import { startObjectStore, type FakeObjectStore } from "./testing/object-store.js";

const ORIGIN = "http://parley.test";
const SRC = dirname(fileURLToPath(import.meta.url));

/** What the test uses of `window.parley` (the page has no access to this file's types). */
interface BrowserSdk {
  createClient(options: { url: string; getToken: () => Promise<string>; storage: unknown; createSocket: unknown }): {
    conversation(id: string): { send(input: { content: string }): { clientMsgId: string } };
    connect(): Promise<void>;
    dispose(): Promise<void>;
  };
  indexedDbStorage(name: string): { load(): Promise<{ clientMsgId: string; state: string; error?: { code: string; name: string } }[]> };
  FakeSocket: new () => {
    factory: unknown;
    open(): Promise<unknown>;
    pending(event: string): { payload: unknown }[];
    fail(event: string, error: { code: string; message: string }): void;
  };
}

/** What the file test uses of the SDK in the page. */
interface FileSdk {
  createClient(options: { url: string; getToken: () => Promise<string>; storage: unknown; createSocket: unknown }): {
    conversation(id: string): { sendFile(file: Blob, input: { caption: string }): { clientMsgId: string } };
    outbox: { get(): { attachments?: { progress: number; file: Blob; name: string }[] }[]; subscribe(fn: () => void): () => void };
    connect(): Promise<void>;
    dispose(): Promise<void>;
  };
  indexedDbStorage(name: string): unknown;
  FakeSocket: new () => {
    factory: unknown;
    open(): Promise<unknown>;
    next(event: string): Promise<{ payload: Record<string, unknown>; respond(res: unknown): void }>;
  };
}

let context: BrowserContext | undefined;
let profile: string | undefined;

/** The SDK and the in-memory fake socket, bundled for the browser as `window.parley`. */
async function bundle(): Promise<string> {
  const entry = 'export * from "./index.ts"; export { FakeSocket } from "./testing/fake-socket.ts";';
  const out = await build({
    stdin: { contents: entry, resolveDir: SRC, loader: "ts" },
    bundle: true,
    format: "iife",
    globalName: "parley",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  return out.outputFiles[0]?.text ?? "";
}

async function page(): Promise<Page> {
  if (!context) throw new Error("no browser");
  return context.pages()[0] ?? (await context.newPage());
}

// Chromium comes from `npm test`'s setup (Debian's package): without it this fails, it never skips.
describe("in a browser", () => {
  beforeAll(async () => {
    const script = await bundle();
    profile = mkdtempSync(join(tmpdir(), "parley-sdk-chromium-"));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    // A real http origin (IndexedDB needs one), served from memory.
    await context.route(`${ORIGIN}/**`, (route) => {
      const url = new URL(route.request().url());
      if (url.pathname === "/sdk.js") return route.fulfill({ contentType: "text/javascript", body: script });
      return route.fulfill({ contentType: "text/html", body: '<!doctype html><script src="/sdk.js"></script>' });
    });
  }, 60_000);

  const servers: FakeObjectStore[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("stores the outbox in IndexedDB: a message written before a reload is sent after it, with its clientMsgId", async () => {
    const p = await page();
    await p.goto(`${ORIGIN}/`);
    const written = await p.evaluate(async (url) => {
      const { createClient, indexedDbStorage, FakeSocket } = (globalThis as unknown as { parley: BrowserSdk }).parley;
      const socket = new FakeSocket();
      const client = createClient({ url, getToken: async () => "t", storage: indexedDbStorage("outbox-test"), createSocket: socket.factory });
      const conv = client.conversation("dddddddddddddddddddddddd");
      const m = conv.send({ content: "written offline" });
      await client.dispose();
      return m.clientMsgId;
    }, ORIGIN);
    expect(written).toMatch(/^[0-9a-f-]{36}$/);

    await p.reload();
    const sent = await p.evaluate(async (url) => {
      const { createClient, indexedDbStorage, FakeSocket } = (globalThis as unknown as { parley: BrowserSdk }).parley;
      const socket = new FakeSocket();
      const client = createClient({ url, getToken: async () => "t", storage: indexedDbStorage("outbox-test"), createSocket: socket.factory });
      const ready = client.connect();
      await socket.open();
      await ready;
      for (let i = 0; i < 50 && socket.pending("message:send").length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      const payloads = socket.pending("message:send").map((r) => r.payload);
      socket.fail("message:send", { code: "FORBIDDEN", message: "not a member" });
      await new Promise((r) => setTimeout(r, 50));
      await client.dispose();
      const stored = await indexedDbStorage("outbox-test").load();
      return { payloads, stored: stored.map((m) => ({ id: m.clientMsgId, state: m.state, error: m.error?.code, revived: m.error instanceof Error && m.error.name === "ParleyError" })) };
    }, ORIGIN);
    expect(sent.payloads).toEqual([{ conversationId: "dddddddddddddddddddddddd", clientMsgId: written, content: "written offline", type: "text" }]);
    expect(sent.stored).toEqual([{ id: written, state: "failed", error: "FORBIDDEN", revived: true }]);
  });
  it("uploads a file with XMLHttpRequest, reporting progress, to another origin; IndexedDB keeps the file across a reload", async () => {
    const CONV = "dddddddddddddddddddddddd";
    const SIZE = 8 * 1024 * 1024;
    // The page and its API on one origin, the object store on another (CORS, as with a real store).
    const site = await startObjectStore();
    const objectStore = await startObjectStore();
    servers.push(site, objectStore);
    objectStore.throttle(256 * 1024, 20);
    const script = await bundle();
    const created: { authorization?: string; body: unknown }[] = [];
    site.fallback = (req, res, body) => {
      if (req.url === "/sdk.js") return void res.writeHead(200, { "content-type": "text/javascript" }).end(script);
      if (req.method === "POST" && req.url === `/api/conversations/${CONV}/attachments`) {
        const file = JSON.parse(new TextDecoder().decode(body)) as { name: string; size: number; contentType: string };
        created.push({ authorization: req.headers.authorization, body: file });
        const answer = {
          attachment: { id: "f".repeat(24), ...file, kind: "image" },
          upload: { url: `${objectStore.url}/attachments/photo`, method: "PUT", headers: { "Content-Type": file.contentType }, expiresAt: new Date(Date.now() + 600_000).toISOString() },
        };
        return void res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify(answer));
      }
      res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><script src="/sdk.js"></script>');
    };
    const p = await page();
    await p.goto(`${site.url}/`);
    const queued = await p.evaluate(
      async ({ url, conv, size }) => {
        const { createClient, indexedDbStorage, FakeSocket } = (globalThis as unknown as { parley: FileSdk }).parley;
        const client = createClient({ url, getToken: async () => "t", storage: indexedDbStorage("files"), createSocket: new FakeSocket().factory });
        const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 31 + (i >> 8)) & 255);
        const m = client.conversation(conv).sendFile(new File([bytes], "photo.png", { type: "image/png" }), { caption: "before the reload" });
        await client.dispose();
        return m.clientMsgId;
      },
      { url: site.url, conv: CONV, size: SIZE },
    );
    expect(created).toEqual([]);

    await p.reload();
    const after = await p.evaluate(async ({ url, conv }) => {
      const { createClient, indexedDbStorage, FakeSocket } = (globalThis as unknown as { parley: FileSdk }).parley;
      const socket = new FakeSocket();
      const client = createClient({ url, getToken: async () => "t", storage: indexedDbStorage("files"), createSocket: socket.factory });
      const progress: number[] = [];
      let kept: { isFile: boolean; name: string; size: number; type: string } | undefined;
      client.outbox.subscribe(() => {
        const a = client.outbox.get()[0]?.attachments?.[0];
        if (!a) return;
        kept ??= { isFile: a.file instanceof File, name: (a.file as File).name, size: a.file.size, type: a.file.type };
        if (a.progress !== progress.at(-1)) progress.push(a.progress);
      });
      const ready = client.connect();
      await socket.open();
      await ready;
      const send = await socket.next("message:send");
      send.respond({ ok: true, message: { id: "e".repeat(24), conversationId: conv, seq: 1, senderId: "a".repeat(24), clientMsgId: send.payload.clientMsgId, content: "before the reload", type: "image", createdAt: new Date().toISOString() } });
      await new Promise<void>((resolve) => {
        const off = client.outbox.subscribe(() => client.outbox.get().length === 0 && (off(), resolve()));
      });
      await client.dispose();
      return { payload: send.payload, progress, kept };
    }, { url: site.url, conv: CONV });

    expect(after.kept).toEqual({ isFile: true, name: "photo.png", size: SIZE, type: "image/png" });
    expect(created).toEqual([{ authorization: "Bearer t", body: { name: "photo.png", size: SIZE, contentType: "image/png" } }]);
    expect(after.payload).toEqual({ conversationId: CONV, clientMsgId: queued, content: "before the reload", type: "image", attachmentIds: ["f".repeat(24)] });
    const expected = Uint8Array.from({ length: SIZE }, (_, i) => (i * 31 + (i >> 8)) & 255);
    expect(Buffer.compare(objectStore.objects.get("/attachments/photo") ?? new Uint8Array(), expected)).toBe(0);
    const put = objectStore.requests.find((r) => r.method === "PUT");
    expect(put?.headers.authorization).toBeUndefined();
    // Cross-origin (Playwright's routing answers the CORS preflight itself, so it never reaches the store).
    expect(put?.headers.origin).toBe(site.url);
    // Progress as XMLHttpRequest reports it: from 0, never backwards, through values between, to 1.
    expect(after.progress[0]).toBe(0);
    expect(after.progress.at(-1)).toBe(1);
    expect(after.progress).toEqual([...after.progress].sort((a, b) => a - b));
    expect(after.progress.some((x) => x > 0 && x < 1)).toBe(true);
  }, 60_000);
});
