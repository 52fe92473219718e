/**
 * The web app as a person uses it: a real cluster (nginx serving the built app, two gateways, the API,
 * the worker, Redis, FerretDB, the object store) and headless Chromium, one browser context per user.
 * Every wait is on what the page shows; nothing sleeps.
 */
import type { Locator } from "playwright-core";
import { describe, expect, it } from "vitest";

import { ApiClient } from "../helpers/api-client.js";
import { connectClient } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { contentsOf, conversationRow, messageLog, messageWith, openDirectChat, ownMessage, register, twoOnTwoGateways, UI_TIMEOUT_MS, useBrowser, type Person } from "../helpers/web-app.js";

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
    // The long history below is posted at once.
    api: { RATE_LIMIT_MESSAGE_BURST: "1000" },
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
/** An element's box, as the page measures it. */
interface Boxed {
  getBoundingClientRect(): { top: number; bottom: number };
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

    // Bob has it unread in his list, until he opens the conversation; till then Ada sees it unread.
    const bobList = bob.page.getByRole("navigation", { name: "Conversations" });
    const bobRow = bobList.getByRole("button", { name: new RegExp(adaName) });
    await bobRow.getByTestId("unread").filter({ hasText: "1 unread" }).waitFor();
    expect(await bobRow.textContent()).toContain("hello bob");
    expect(await messageWith(ada, "hello bob").getByTestId("read-by").count()).toBe(0);
    await bobRow.click();
    await bob.page.getByRole("log", { name: "Messages" }).getByText("hello bob").waitFor();
    // He opens it on "New messages", under today's date; Ada sees he read it.
    expect(await messageLog(bob).getByRole("heading").allTextContents()).toEqual(["Today", "New messages"]);
    await messageWith(ada, "hello bob").getByRole("img", { name: `Read by ${bobName}`, exact: true }).waitFor();
    expect(await messageWith(ada, "hello bob").getByTestId("read-by").count()).toBe(1);

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
    // Read back from history, which says it is stored: still the double check.
    await ownMessage(eve, "after two refreshes", "Saved").waitFor();
    expect((await storedSessionOf(eve)).sessionId).toBe(first.sessionId);

    expect([...eve.problems, ...frank.problems]).toEqual([]);
  }, 120_000);

  it("opens a long history on its first unread message, marks read only what was on screen, and scrolls back to the first message", async () => {
    // Straight to the API: nginx's per-address request limit would make the seeding wait.
    const api = new ApiClient(fixture.cluster.api.url);
    const reader = await api.register("reader");
    const writer = await api.register("writer");
    const { id } = await api.direct(writer.token, reader.id);
    // 200 messages, every tenth of the first 130 the reader's; she has read up to 140.
    const TOTAL = 200;
    const READ = 140;
    for (let seq = 1; seq <= TOTAL; seq++) {
      const from = seq % 10 === 0 && seq <= 130 ? reader : writer;
      const body = { clientMsgId: `history-${seq}`, content: `history ${seq}` };
      const res = await api.request<{ message: { seq: number } }>("POST", `/api/conversations/${id}/messages`, { token: from.token, body });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.message.seq).toBe(seq);
    }
    const socket = await connectClient(fixture.cluster.url, reader.token);
    const ack = await new Promise((resolve) => socket.socket.emit("conversation:read", { conversationId: id, seq: READ }, resolve));
    expect(ack).toEqual({ ok: true, seq: READ });
    socket.socket.disconnect();
    const readPointer = async () =>
      (await api.request<{ conversation: { readPointers: Record<string, number> } }>("GET", `/api/conversations/${id}`, { token: reader.token })).body.conversation.readPointers[reader.id];

    const person = await open(1280);
    await person.page.getByLabel("Username").fill(reader.user.username);
    await person.page.getByLabel("Password").fill("correct horse battery");
    await person.page.getByRole("button", { name: "Log in", exact: true }).click();
    await conversationRow(person, new RegExp(writer.user.username)).click();

    // "New messages" right above the first unread, and the view on it.
    const log = messageLog(person);
    const divider = log.locator("li.unread-divider");
    await divider.getByRole("heading", { name: "New messages" }).waitFor();
    expect(await log.locator("li.unread-divider + li.message .content").textContent()).toBe(`history ${READ + 1}`);
    const top = async () => ((await divider.boundingBox())?.y ?? NaN) - ((await log.boundingBox())?.y ?? NaN);
    await expect.poll(top, { timeout: UI_TIMEOUT_MS }).toBeLessThan(40);
    expect(await top()).toBeGreaterThanOrEqual(0);

    // Read: what came into view, and nothing below it.
    await expect.poll(readPointer, { timeout: UI_TIMEOUT_MS }).toBeGreaterThan(READ);
    const lastOnScreen = await log.evaluate((el) => {
      const box = el as unknown as Boxed & { querySelectorAll(selector: string): Iterable<Boxed & { getAttribute(name: string): string | null }> };
      const bottom = box.getBoundingClientRect().bottom;
      const shown = [...box.querySelectorAll("li[data-seq]")].filter((li) => li.getBoundingClientRect().top < bottom);
      return Number(shown.at(-1)?.getAttribute("data-seq"));
    });
    expect(lastOnScreen).toBeLessThan(TOTAL - 10);
    expect(await readPointer()).toBeLessThanOrEqual(lastOnScreen);

    // Scrolled to the top, page after page comes in above, until the first message.
    const messages = log.locator("li.message");
    const first = log.locator("li.message .content", { hasText: /^history 1$/ });
    const offsetOf = async (item: Locator) => ((await item.boundingBox())?.y ?? NaN) - ((await log.boundingBox())?.y ?? NaN);
    for (let scrolls = 0; (await first.count()) === 0; scrolls++) {
      expect(scrolls, "pages loaded by scrolling").toBeLessThan(5);
      const held = await messages.count();
      // To the top, and where the oldest message held is then (before anything can load).
      const oldest = await log.evaluate((el) => {
        const box = el as unknown as Boxed & { scrollTop: number; querySelector(selector: string): (Boxed & { getAttribute(name: string): string | null }) | null };
        box.scrollTop = 0;
        const item = box.querySelector("li[data-seq]");
        return { seq: item?.getAttribute("data-seq"), offset: (item?.getBoundingClientRect().top ?? NaN) - box.getBoundingClientRect().top };
      });
      await expect.poll(() => messages.count(), { timeout: UI_TIMEOUT_MS }).toBeGreaterThan(held);
      // The messages on screen stayed where they were.
      expect(Math.abs((await offsetOf(log.locator(`li[data-seq="${oldest.seq}"]`))) - oldest.offset)).toBeLessThan(2);
    }
    await log.getByRole("button", { name: "Load earlier messages" }).waitFor({ state: "detached" });
    expect(await contentsOf(person)).toEqual(Array.from({ length: TOTAL }, (_, i) => `history ${i + 1}`));
    // One day, one separator; the divider where it was.
    expect(await log.getByRole("heading").allTextContents()).toEqual(["Today", "New messages"]);
    expect(await log.locator("li.unread-divider + li.message .content").textContent()).toBe(`history ${READ + 1}`);

    expect(person.problems).toEqual([]);
  }, 120_000);
});
