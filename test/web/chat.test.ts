/**
 * The web app as a person uses it: a real cluster (nginx serving the built app, two gateways, the API,
 * the worker, Redis, FerretDB, the object store) and headless Chromium, one browser context per user.
 * Every wait is on what the page shows; nothing sleeps.
 */
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { launchChromium } from "../../scripts/lib/chromium.js";
import { useCluster } from "../helpers/cluster.js";

const fixture = useCluster("web", {
  // A message waits up to this long for the worker's batch: "sent" stays on screen long enough to be
  // seen between "pending" and "persisted", whatever the machine's load.
  envFor: { worker: { PERSIST_BATCH_WAIT_MS: "300" } },
});

/** Generous for a loaded machine, far below the test's timeout. */
const UI_TIMEOUT_MS = 15_000;

let browser: Browser | undefined;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close();
});

/** A person at a browser: their page, and what the page reported wrong (errors, CSP refusals). */
interface Person {
  page: Page;
  problems: string[];
}

/** A new browser context (its own cookies and storage) on the app, `width` pixels wide. */
async function open(width: number): Promise<Person> {
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
  return { page, problems };
}

/** Creates an account through the form; resolves once the chat screen shows. */
async function register({ page }: Person, username: string): Promise<void> {
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor();
}

/** The gateway node the tab's socket is on, from the about panel, once connected. */
async function gatewayNodeOf({ page }: Person): Promise<string> {
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

/** What the page functions below use of the browser (this file is compiled without the DOM's types). */
interface PageGlobals {
  document: { body: unknown; querySelectorAll(selector: string): Iterable<PageElement> };
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: Record<string, boolean>): void };
  sendStates: Record<string, string[]>;
}
interface PageElement {
  textContent: string | null;
  querySelector(selector: string): PageElement | null;
  getAttribute(name: string): string | null;
}

/**
 * Records, from now on, the names of the send-state icon of each own message (by its text) as the page
 * changes them: the transitions themselves, however quickly they follow each other.
 */
async function recordSendStates({ page }: Person): Promise<void> {
  await page.evaluate(() => {
    const win = globalThis as unknown as PageGlobals;
    const seen: Record<string, string[]> = (win.sendStates = {});
    const record = () => {
      for (const item of win.document.querySelectorAll("li.message.mine")) {
        const text = item.querySelector(".content")?.textContent ?? "";
        const state = item.querySelector('[data-testid="send-state"]')?.getAttribute("aria-label") ?? "";
        const states = (seen[text] ??= []);
        if (states.at(-1) !== state) states.push(state);
      }
    };
    new win.MutationObserver(record).observe(win.document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    record();
  });
}

async function sendStatesOf({ page }: Person, text: string): Promise<string[]> {
  return page.evaluate((t) => (globalThis as unknown as PageGlobals).sendStates[t] ?? [], text);
}

/** The own message `text` once it shows `state` (by its icon's name). */
function ownMessage({ page }: Person, text: string, state: string): Locator {
  return page
    .getByRole("log", { name: "Messages" })
    .locator("li.message.mine")
    .filter({ has: page.locator(".content", { hasText: text }) })
    .filter({ has: page.getByRole("img", { name: state, exact: true }) });
}

async function contentsOf({ page }: Person): Promise<string[]> {
  return page.getByRole("log", { name: "Messages" }).locator("li.message .content").allTextContents();
}

describe("the web app", () => {
  it("lets two users on two gateways chat both ways: send states, unread badge, presence, typing", async () => {
    const suffix = Date.now().toString(36);
    const adaName = `ada-${suffix}`;
    const bobName = `bob-${suffix}`;

    // Ada connects first and holds her socket; nginx's least_conn then gives Bob's new connection to
    // the other gateway. The about panels say where each tab is.
    const ada = await open(1280);
    await register(ada, adaName);
    const adaNode = await gatewayNodeOf(ada);
    const bob = await open(390);
    await register(bob, bobName);
    const bobNode = await gatewayNodeOf(bob);
    const gateways = [fixture.gatewayIndexOfNode(adaNode), fixture.gatewayIndexOfNode(bobNode)];
    expect(gateways.every((i) => i >= 0), `${adaNode}, ${bobNode}`).toBe(true);
    expect(gateways[0]).not.toBe(gateways[1]);

    // Ada finds Bob and opens their direct chat.
    await ada.page.getByLabel("Find a user").fill(bobName);
    await ada.page.getByRole("button", { name: `Chat with ${bobName} (@${bobName})` }).click();
    await ada.page.getByRole("heading", { name: bobName }).waitFor();
    const adaList = ada.page.getByRole("navigation", { name: "Conversations" });
    await adaList.getByRole("button", { name: new RegExp(bobName) }).getByRole("img", { name: "online" }).waitFor();

    // She writes: clock, then check, then double check.
    await recordSendStates(ada);
    const box = ada.page.getByRole("textbox", { name: "Message" });
    await box.fill("hello bob");
    await box.press("Enter");
    expect(await box.inputValue()).toBe("");
    await ownMessage(ada, "hello bob", "Saved").waitFor();
    expect(await sendStatesOf(ada, "hello bob")).toEqual(["Sending", "Sent", "Saved"]);

    // Bob has it unread in his list, until he opens the conversation.
    const bobList = bob.page.getByRole("navigation", { name: "Conversations" });
    const bobRow = bobList.getByRole("button", { name: new RegExp(adaName) });
    await bobRow.getByTestId("unread").filter({ hasText: "1 unread" }).waitFor();
    expect(await bobRow.textContent()).toContain("hello bob");
    await bobRow.click();
    await bob.page.getByRole("log", { name: "Messages" }).getByText("hello bob").waitFor();

    // Bob types: Ada sees it, and sees it stop when he sends.
    const bobBox = bob.page.getByRole("textbox", { name: "Message" });
    await bobBox.pressSequentially("hi ada");
    const typing = ada.page.getByTestId("typing");
    await typing.filter({ hasText: `${bobName} is typing…` }).waitFor();
    await recordSendStates(bob);
    await bobBox.press("Enter");
    await ada.page.getByRole("log", { name: "Messages" }).getByText("hi ada").waitFor();
    await typing.filter({ hasText: "typing" }).waitFor({ state: "detached" });
    expect(await typing.textContent()).toBe("");
    await ownMessage(bob, "hi ada", "Saved").waitFor();
    expect(await sendStatesOf(bob, "hi ada")).toEqual(["Sending", "Sent", "Saved"]);

    // Shift+Enter adds a line; Enter sends both lines as one message.
    await box.fill("two");
    await box.press("Shift+Enter");
    await box.pressSequentially("lines");
    expect(await box.inputValue()).toBe("two\nlines");
    await box.press("Enter");
    await bob.page.getByRole("log", { name: "Messages" }).locator("li.message .content", { hasText: "lines" }).waitFor();
    await ownMessage(ada, "lines", "Saved").waitFor();

    // The same conversation, in the same order, on both sides.
    const expected = ["hello bob", "hi ada", "two\nlines"];
    expect(await contentsOf(ada)).toEqual(expected);
    expect(await contentsOf(bob)).toEqual(expected);
    // Bob read everything while the conversation was open: his list has no badge for it.
    await bob.page.getByRole("button", { name: "Back to conversations" }).click();
    await bobRow.getByTestId("unread").waitFor({ state: "detached" });

    expect([...ada.problems, ...bob.problems]).toEqual([]);
  }, 120_000);
});
