/**
 * The web app as a person uses it: a real cluster (nginx serving the built app, two gateways, the API,
 * the worker, Redis, FerretDB, the object store) and headless Chromium, one browser context per user.
 * Every wait is on what the page shows; nothing sleeps.
 */
import type { Locator } from "playwright-core";
import { describe, expect, it } from "vitest";

import { useCluster } from "../helpers/cluster.js";
import { contentsOf, openDirectChat, register, twoOnTwoGateways, useBrowser, type Person } from "../helpers/web-app.js";

/** Short sessions, so that the app has to refresh them while the tests run. */
const ACCESS_TOKEN_TTL_SECONDS = 20;

const fixture = useCluster("web", {
  env: { ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS) },
  envFor: {
    // A message waits up to this long for the worker's batch: "sent" stays on screen long enough to be
    // seen between "pending" and "persisted", whatever the machine's load.
    worker: { PERSIST_BATCH_WAIT_MS: "300" },
    // Sockets are told 10 s before their token expires: the app refreshes halfway through its life.
    gateway: { SESSION_EXPIRY_WARNING_SECONDS: "10" },
  },
});

const { open } = useBrowser(fixture);

/** What the page functions below use of the browser (this file is compiled without the DOM's types). */
interface PageGlobals {
  document: { body: unknown; querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): Iterable<PageElement> };
  localStorage: { getItem(key: string): string | null };
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: Record<string, boolean>): void };
  seen: Seen;
}
interface PageElement {
  textContent: string | null;
  querySelector(selector: string): PageElement | null;
  getAttribute(name: string): string | null;
}
/** What {@link recordChanges} saw. */
interface Seen {
  /** Text of an own message → the names its send-state icon had, in order. */
  sendStates: Record<string, string[]>;
  /** The kinds the connection banner had, in order ("" for none shown). */
  banner: string[];
}

/**
 * Records, from now on, the states the page shows as it changes them: each own message's send-state
 * icon (by the message's text) and the connection banner; the transitions themselves, however quickly
 * they follow each other.
 */
async function recordChanges({ page }: Person): Promise<void> {
  await page.evaluate(() => {
    const win = globalThis as unknown as PageGlobals;
    const seen: Seen = (win.seen = { sendStates: {}, banner: [] });
    const push = (list: string[], value: string) => list.at(-1) !== value && list.push(value);
    const record = () => {
      for (const item of win.document.querySelectorAll("li.message.mine")) {
        const text = item.querySelector(".content")?.textContent ?? "";
        push((seen.sendStates[text] ??= []), item.querySelector('[data-testid="send-state"]')?.getAttribute("aria-label") ?? "");
      }
      push(seen.banner, win.document.querySelector('[data-testid="connection-banner"]')?.getAttribute("data-kind") ?? "");
    };
    new win.MutationObserver(record).observe(win.document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    record();
  });
}

async function seenOn({ page }: Person): Promise<Seen> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).seen);
}

/** The access token the app keeps in localStorage (session.ts), and its session. */
async function storedSessionOf({ page }: Person): Promise<{ accessToken: string; sessionId: string }> {
  return page.evaluate(() => JSON.parse((globalThis as unknown as PageGlobals).localStorage.getItem("parley.session") ?? "null"));
}

/** Resolves once the app stored an access token other than `token`: it refreshed the session. */
async function refreshedFrom({ page }: Person, token: string): Promise<string> {
  const handle = await page.waitForFunction(
    (old) => {
      const stored = JSON.parse((globalThis as unknown as PageGlobals).localStorage.getItem("parley.session") ?? "null") as { accessToken?: string } | null;
      return stored?.accessToken && stored.accessToken !== old ? stored.accessToken : false;
    },
    token,
    { timeout: 2 * ACCESS_TOKEN_TTL_SECONDS * 1000, polling: 200 },
  );
  return (await handle.jsonValue()) as string;
}

/** The own message `text` once it shows `state` (by its icon's name). */
function ownMessage({ page }: Person, text: string, state: string): Locator {
  return page
    .getByRole("log", { name: "Messages" })
    .locator("li.message.mine")
    .filter({ has: page.locator(".content", { hasText: text }) })
    .filter({ has: page.getByRole("img", { name: state, exact: true }) });
}

describe("the web app", () => {
  it("lets two users on two gateways chat both ways: send states, unread badge, presence, typing", async () => {
    const { ada, bob, adaName, bobName } = await twoOnTwoGateways(fixture, open);

    // Ada finds Bob and opens their direct chat.
    await openDirectChat(ada, bobName);
    const adaList = ada.page.getByRole("navigation", { name: "Conversations" });
    await adaList.getByRole("button", { name: new RegExp(bobName) }).getByRole("img", { name: "online" }).waitFor();

    // She writes: clock, then check, then double check.
    await recordChanges(ada);
    const box = ada.page.getByRole("textbox", { name: "Message" });
    await box.fill("hello bob");
    await box.press("Enter");
    expect(await box.inputValue()).toBe("");
    await ownMessage(ada, "hello bob", "Saved").waitFor();
    expect((await seenOn(ada)).sendStates["hello bob"]).toEqual(["Sending", "Sent", "Saved"]);

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
    await recordChanges(bob);
    await bobBox.press("Enter");
    await ada.page.getByRole("log", { name: "Messages" }).getByText("hi ada").waitFor();
    await typing.filter({ hasText: "typing" }).waitFor({ state: "detached" });
    expect(await typing.textContent()).toBe("");
    await ownMessage(bob, "hi ada", "Saved").waitFor();
    expect((await seenOn(bob)).sendStates["hi ada"]).toEqual(["Sending", "Sent", "Saved"]);

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

  it("keeps the session by itself: tokens refreshed, the socket kept past the first one's expiry, a reload still logged in", async () => {
    const suffix = Date.now().toString(36);
    const eveName = `eve-${suffix}`;
    const eve = await open(1280);
    await register(eve, eveName);
    const frank = await open(1280);
    await register(frank, `frank-${suffix}`);
    await eve.page.getByTestId("connection-banner").filter({ hasText: /./ }).waitFor({ state: "detached" });
    await recordChanges(eve);
    const first = await storedSessionOf(eve);

    // Refreshed twice: the first token has expired by the second refresh (each comes halfway through).
    const second = await refreshedFrom(eve, first.accessToken);
    await refreshedFrom(eve, second);
    const later = await storedSessionOf(eve);
    expect(later.sessionId).toBe(first.sessionId);

    // Still connected on the same session: a message goes through, to the end.
    await openDirectChat(eve, `frank-${suffix}`);
    const box = eve.page.getByRole("textbox", { name: "Message" });
    await box.fill("after two refreshes");
    await box.press("Enter");
    await ownMessage(eve, "after two refreshes", "Saved").waitFor();
    expect((await seenOn(eve)).banner, "the connection never dropped").toEqual([""]);
    await frank.page.getByRole("navigation", { name: "Conversations" }).getByRole("button", { name: new RegExp(eveName) }).getByTestId("unread").waitFor();

    // A reload keeps the session, the list and the conversation.
    await eve.page.reload();
    const row = eve.page.getByRole("navigation", { name: "Conversations" }).getByRole("button", { name: new RegExp(`frank-${suffix}`) });
    await row.click();
    await ownMessage(eve, "after two refreshes", "Sent").waitFor();
    expect((await storedSessionOf(eve)).sessionId).toBe(first.sessionId);

    expect([...eve.problems, ...frank.problems]).toEqual([]);
  }, 120_000);
});
