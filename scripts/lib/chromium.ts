/**
 * Headless Chromium (Debian's package, driven by playwright-core) for the tools and tests that look at a
 * page as a browser shows it: the dashboard's screenshot, the API reference page's test, the web app's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium, type Browser, type Page } from "playwright-core";

/** Where `node scripts/setup.mjs --dashboard` (or `--test-tools`) installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Headless, without a sandbox (root), and without any of the browser's own traffic (updates, sync, QUIC). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Chromium's fake camera and microphone (a test pattern and a beep), granted without a prompt, and media
 * that plays without a gesture: what calls and voice notes need without a person at the browser.
 */
export const FAKE_MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required"] as const;

/** Options of {@link withChromiumPage}. */
export interface ChromiumPageOptions {
  /** @default 1280 × 800 */
  viewport?: { width: number; height: number };
}

/** Runs `use` with a page of a fresh Chromium on a profile of its own, closed and removed afterwards. */
export async function withChromiumPage<T>(use: (page: Page) => Promise<T>, options: ChromiumPageOptions = {}): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), "parley-chromium-"));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: options.viewport ?? { width: 1280, height: 800 },
    });
    try {
      return await use(context.pages()[0] ?? (await context.newPage()));
    } finally {
      await context.close();
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Options of {@link launchChromium}. */
export interface LaunchChromiumOptions {
  /**
   * Command-line switches added to {@link CHROMIUM_ARGS}, such as `--use-fake-device-for-media-stream`.
   * @default []
   */
  args?: readonly string[];
}

/**
 * A fresh headless Chromium for tests that need several independent contexts at once (one per user:
 * each has its own cookies and storage); `close()` it after.
 */
export function launchChromium(options: LaunchChromiumOptions = {}): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...(options.args ?? [])] });
}
