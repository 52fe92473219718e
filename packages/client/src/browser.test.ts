/**
 * The SDK in a real browser (headless Chromium): the package bundles for the browser, and the
 * IndexedDB outbox keeps a message written before a page reload, which the next page load sends.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { CHROMIUM, CHROMIUM_ARGS } from "../../../scripts/lib/chromium.js";

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

  afterAll(async () => {
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
});
