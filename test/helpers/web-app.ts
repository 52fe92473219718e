/**
 * The web app's browser tests' common ground: one headless Chromium per test file, one context per
 * person (their own cookies and storage) on the cluster's nginx, and the steps every test takes the way
 * a person does (register, open a chat). Every wait is on what the page shows; nothing sleeps.
 */
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";

import { launchChromium } from "../../scripts/lib/chromium.js";
import { register } from "../../scripts/lib/web-steps.js";
import type { ClusterFixture } from "./cluster.js";

export { FAKE_MEDIA_ARGS } from "../../scripts/lib/chromium.js";
export { logIn, openDirectChat, register, say } from "../../scripts/lib/web-steps.js";

/** Generous for a loaded machine, far below the tests' timeouts. */
export const UI_TIMEOUT_MS = 15_000;

/** A person at a browser: their page and its context, and what the page reported wrong (errors, CSP refusals). */
export interface Person {
  page: Page;
  /** The page's browser context: its network (`setOffline`), cookies and storage. */
  context: BrowserContext;
  problems: string[];
}

/** Options of {@link useBrowser}. */
export interface BrowserOptions {
  /**
   * More Chromium switches, after the default ones: `FAKE_MEDIA_ARGS` for tests of calls.
   * @default none
   */
  args?: readonly string[];
}

/** Starts Chromium before the file's tests and closes it, and every context opened, after them. */
export function useBrowser(fixture: ClusterFixture, options: BrowserOptions = {}): { open(width: number): Promise<Person> } {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    browser = await launchChromium({ args: options.args ?? [] });
  }, 60_000);
  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
  });
  return {
    /** A new browser context on the app, `width` pixels wide. */
    async open(width) {
      if (!browser) throw new Error("no browser");
      const context = await browser.newContext({ viewport: { width, height: 800 } });
      contexts.push(context);
      context.setDefaultTimeout(UI_TIMEOUT_MS);
      const page = await context.newPage();
      const problems: string[] = [];
      page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`);
      });
      // The origin the cluster was told it is public at: the gateways refuse sockets from any other page.
      await page.goto(`http://localhost:${fixture.cluster.port}/`);
      return { page, context, problems };
    },
  };
}

/** The gateway node the tab's socket is on, from the about panel, once connected. */
export async function gatewayNodeOf({ page }: Person): Promise<string> {
  await page.getByRole("button", { name: "About" }).click();
  const about = page.getByRole("dialog", { name: "About parley" });
  await about.getByTestId("about-state").filter({ hasText: /^ready$/ }).waitFor();
  const node = (await about.getByTestId("about-node").textContent()) ?? "";
  expect(await about.getByTestId("about-protocol").textContent()).toMatch(/^\d+\.\d+$/);
  expect(await about.getByTestId("about-server-protocol").textContent()).toMatch(/^\d+\.\d+$/);
  await about.getByRole("button", { name: "Close" }).click();
  await about.waitFor({ state: "hidden" });
  return node;
}

/**
 * Ada (1280 px wide) and Bob (390 px, a phone), registered with a fresh `suffix`, on two different
 * gateways: Ada connects first and holds her socket, so nginx's least_conn gives Bob's new connection
 * to the other gateway. The about panels say where each tab is.
 */
export async function twoOnTwoGateways(
  fixture: ClusterFixture,
  open: (width: number) => Promise<Person>,
): Promise<{ ada: Person; bob: Person; adaName: string; bobName: string; suffix: string }> {
  const suffix = Date.now().toString(36);
  const adaName = `ada-${suffix}`;
  const bobName = `bob-${suffix}`;
  const ada = await open(1280);
  await register(ada, adaName);
  const adaNode = await gatewayNodeOf(ada);
  const bob = await open(390);
  await register(bob, bobName);
  const bobNode = await gatewayNodeOf(bob);
  const gateways = [fixture.gatewayIndexOfNode(adaNode), fixture.gatewayIndexOfNode(bobNode)];
  expect(gateways.every((i) => i >= 0), `${adaNode}, ${bobNode}`).toBe(true);
  expect(gateways[0]).not.toBe(gateways[1]);
  return { ada, bob, adaName, bobName, suffix };
}

/** The conversation list's row named `name`. */
export function conversationRow({ page }: Person, name: string | RegExp): Locator {
  return page.getByRole("navigation", { name: "Conversations" }).getByRole("button", { name });
}

/** The open conversation's messages. */
export function messageLog({ page }: Person): Locator {
  return page.getByRole("log", { name: "Messages" });
}

/** The message whose text contains `text`, in the open conversation. */
export function messageWith(person: Person, text: string): Locator {
  return messageLog(person)
    .locator("li.message")
    .filter({ has: person.page.locator(".content", { hasText: text }) });
}

/** The texts of the open conversation's messages, in order. */
export async function contentsOf(person: Person): Promise<string[]> {
  return messageLog(person).locator("li.message .content").allTextContents();
}


/** The own message `text` once it shows `state` (by its icon's name). */
export function ownMessage({ page }: Person, text: string, state: string): Locator {
  return page
    .getByRole("log", { name: "Messages" })
    .locator("li.message.mine")
    .filter({ has: page.locator(".content", { hasText: text }) })
    .filter({ has: page.getByRole("img", { name: state, exact: true }) });
}
