/**
 * `npm run screenshots`: the web app's pictures in docs/ (and the README), taken the way a person sees
 * the app. Starts a local cluster of its own (two gateways, the API, the worker, Redis, FerretDB, the
 * object store, nginx), opens two people in headless Chromium with its fake camera and microphone, and
 * has them chat (text, a reply, a picture, a voice note) and then make a video call:
 *
 *   docs/web-conversation.png   the conversation view, as Grace sees it
 *   docs/web-call.png           the video call, as Alan sees it
 *
 * Every step waits for what the page shows; nothing sleeps.
 */
import { randomBytes } from "node:crypto";
import { rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";

import type { Browser, Page } from "playwright-core";

import { FAKE_MEDIA_ARGS, launchChromium } from "./lib/chromium.js";
import { startCluster, type Cluster } from "./lib/cluster.js";
import { ONE_ADDRESS_LIMITS } from "./lib/one-address-limits.js";
import { ROOT, RUN_DIR } from "./lib/paths.js";
import { ensureWebBuild } from "./lib/web.js";
import { openDirectChat, register, say } from "./lib/web-steps.js";

/** The size of both pictures: a laptop's window. */
const VIEWPORT = { width: 1100, height: 900 };
/** Long enough for a cluster of its own on a busy 2-core machine. */
const STEP_TIMEOUT_MS = 30_000;

const log = (message: string) => console.log(`screenshots: ${message}`);

/** Waits until every own message on `page` shows the double check (stored). */
async function allSaved(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document;
    return doc.querySelectorAll("li.message.mine").length > 0 && doc.querySelectorAll('li.message.mine[data-state]:not([data-state="persisted"])').length === 0;
  });
}

/** Waits until the picture `alt` in the open conversation has loaded. */
async function pictureLoaded(page: Page, alt: string): Promise<void> {
  await page.waitForFunction((name) => {
    const doc = (globalThis as unknown as { document: { querySelector(s: string): { complete: boolean; naturalWidth: number } | null } }).document;
    const img = doc.querySelector(`li.message img[alt="${name}"]`);
    return img !== null && img.complete && img.naturalWidth > 0;
  }, alt);
}

async function shoot(page: Page, name: string): Promise<void> {
  const file = join(ROOT, "docs", name);
  await page.screenshot({ path: file });
  log(`${relative(ROOT, file)} (${Math.round(statSync(file).size / 1024)} KB)`);
}

async function run(cluster: Cluster, browser: Browser): Promise<void> {
  const open = async () => {
    const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: "light" });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    const page = await context.newPage();
    await page.goto(`http://localhost:${cluster.port}/`);
    return { page };
  };
  const grace = await open();
  await register(grace, "grace");
  const alan = await open();
  await register(alan, "alan");

  log("chatting");
  await openDirectChat(grace, "alan");
  await say(grace, "Hi Alan! Did the load test finish?");
  const alanRow = alan.page.getByRole("navigation", { name: "Conversations" }).getByRole("button", { name: /grace/ });
  await alanRow.click();
  const alanLog = alan.page.getByRole("log", { name: "Messages" });
  await alanLog.getByText("Did the load test finish?").waitFor();
  await say(alan, "It did: 20,000 sockets on two gateways, not one message lost.");
  await say(alan, "Here is the dashboard.");
  await alan.page.getByLabel("Attach files").setInputFiles(join(ROOT, "docs", "dashboard-load-run.png"));
  await pictureLoaded(grace.page, "dashboard-load-run.png");

  // Grace replies to the picture's message with a quote, then sends a voice note.
  const graceLog = grace.page.getByRole("log", { name: "Messages" });
  const dashboard = graceLog.locator("li.message").filter({ hasText: "Here is the dashboard." });
  await dashboard.hover();
  await dashboard.getByRole("button", { name: "Reply" }).click();
  await say(grace, "Great, a flat line at 1,000 deliveries a second.");
  await grace.page.getByRole("button", { name: "Record voice note" }).click();
  const recorder = grace.page.getByRole("group", { name: "Voice note" });
  await recorder.getByRole("timer", { name: "Time recorded" }).filter({ hasText: /^0:0[2-9]$/ }).waitFor();
  await recorder.getByRole("button", { name: "Send voice note" }).click();
  await alanLog.getByRole("figure", { name: /^Voice note, \d+:\d\d$/ }).waitFor();
  await graceLog.getByRole("figure", { name: /^Voice note, \d+:\d\d$/ }).waitFor();

  // Alan has read it all and is typing an answer.
  await allSaved(grace.page);
  await graceLog.locator("li.message.mine").last().getByTestId("read-by").waitFor();
  await alan.page.getByRole("textbox", { name: "Message" }).pressSequentially("Call you in five");
  await grace.page.getByTestId("typing").filter({ hasText: "alan is typing…" }).waitFor();
  await grace.page.mouse.move(0, 0);
  await shoot(grace.page, "web-conversation.png");

  log("calling");
  await grace.page.getByRole("button", { name: "Video call" }).click();
  await alan.page.getByRole("dialog", { name: "grace is calling you" }).getByRole("button", { name: "Accept" }).click();
  for (const { page } of [grace, alan]) {
    await page.locator('[data-testid="call-screen"][data-connection-state="connected"]').waitFor();
    await page.getByRole("timer", { name: "Call duration" }).filter({ hasText: /^0:0[2-9]$/ }).waitFor();
    await page.waitForFunction(() => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ videoWidth: number }> } }).document;
      return [...doc.querySelectorAll('[data-testid="call-screen"] video')].every((video) => video.videoWidth > 0);
    });
  }
  await shoot(alan.page, "web-call.png");
  await grace.page.getByRole("button", { name: "Hang up" }).click();
  await alan.page.getByTestId("call-screen").waitFor({ state: "detached" });
}

ensureWebBuild((message) => log(`building: ${message}`));
const dir = join(RUN_DIR, "screenshots");
rmSync(dir, { recursive: true, force: true });
log(`starting a cluster under ${relative(ROOT, dir)}`);
const cluster = await startCluster({ dir, gateways: 2, jwtSecret: randomBytes(32).toString("base64url"), logLevel: "warn", env: { ...ONE_ADDRESS_LIMITS } });
const browser = await launchChromium({ args: FAKE_MEDIA_ARGS });
try {
  await run(cluster, browser);
} catch (err) {
  console.error(`screenshots failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  await cluster.stop();
}
