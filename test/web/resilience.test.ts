/**
 * The web app when the network or a server goes away: offline across a reload (the service worker
 * serves the app shell, the outbox in IndexedDB keeps what was written), and a gateway killed in the
 * middle of a chat. A real cluster (two gateways behind nginx) and headless Chromium, one browser
 * context per user. Every wait is on what the page shows or on an event; nothing sleeps.
 */
import { describe, expect, it } from "vitest";

import { useCluster } from "../helpers/cluster.js";
import {
  contentsOf,
  conversationRow,
  gatewayNodeOf,
  messageWith,
  openDirectChat,
  ownMessage,
  register,
  say,
  useBrowser,
  type Person,
} from "../helpers/web-app.js";

const fixture = useCluster("web-resilience", {
  // A message waits up to this long for the worker's batch, whatever the machine's load.
  envFor: { worker: { PERSIST_BATCH_WAIT_MS: "300" } },
});

const { open } = useBrowser(fixture);

/** What the page functions below use of the browser (this file is compiled without the DOM's types). */
interface PageGlobals {
  navigator: { serviceWorker: { ready: Promise<unknown>; controller: unknown } };
}

/** Resolves once the page's service worker is active: the app shell is in its cache. */
async function serviceWorkerReady({ page }: Person): Promise<void> {
  await page.evaluate(async () => {
    await (globalThis as unknown as PageGlobals).navigator.serviceWorker.ready;
  });
}

/** Whether a service worker controls the page (answers its requests). */
async function controlled({ page }: Person): Promise<boolean> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).navigator.serviceWorker.controller !== null);
}

/** The connection banner once it shows `kind` (its data-kind). */
function banner({ page }: Person, kind: string) {
  return page.locator(`[data-testid="connection-banner"][data-kind="${kind}"]`);
}

/** Resolves once the banner shows nothing: connected, and "Back online" gone. */
async function bannerGone({ page }: Person): Promise<void> {
  await page.getByTestId("connection-banner").filter({ hasText: /./ }).waitFor({ state: "detached" });
}

/** Two fresh users, each registered in a context of their own, with their direct chat open on both sides. */
async function twoInADirectChat(): Promise<[Person, Person, { ada: string; bob: string }]> {
  const suffix = Date.now().toString(36);
  const names = { ada: `ada-${suffix}`, bob: `bob-${suffix}` };
  const ada = await open(1280);
  await register(ada, names.ada);
  const bob = await open(390);
  await register(bob, names.bob);
  await openDirectChat(ada, names.bob);
  await say(ada, "hello");
  await conversationRow(bob, new RegExp(names.ada)).click();
  await messageWith(bob, "hello").waitFor();
  return [ada, bob, names];
}

describe("the web app, resilient", () => {
  it("keeps working offline across a reload: the app shell from the service worker, the outbox sent once back", async () => {
    const [ada, bob] = await twoInADirectChat();
    await ownMessage(ada, "hello", "Saved").waitFor();
    await serviceWorkerReady(ada);

    await ada.context.setOffline(true);
    await banner(ada, "offline").waitFor();
    const texts = ["first offline", "second offline", "third offline"];
    for (const text of texts) {
      await say(ada, text);
      await ownMessage(ada, text, "Sending").waitFor();
    }
    await banner(ada, "offline").filter({ hasText: "3 messages wait to be sent." }).waitFor();

    // A reload without a network: the service worker answers the page and its assets from its cache,
    // and the outbox comes back from IndexedDB.
    const reloaded = await ada.page.reload();
    expect(reloaded?.fromServiceWorker()).toBe(true);
    expect(await controlled(ada)).toBe(true);
    await banner(ada, "offline").filter({ hasText: "3 messages wait to be sent." }).waitFor();
    // The tab reopens the conversation it had open; its messages are the outbox's for now.
    for (const text of texts) await ownMessage(ada, text, "Sending").waitFor();

    await ada.context.setOffline(false);
    for (const text of texts) await ownMessage(ada, text, "Saved").waitFor();
    await bannerGone(ada);
    for (const text of texts) await messageWith(bob, text).waitFor();
    const expected = ["hello", ...texts];
    expect(await contentsOf(ada)).toEqual(expected);
    expect(await contentsOf(bob)).toEqual(expected);

    // What the browser reports of requests refused offline (the API's, the page's through the worker).
    expect([...ada.problems.filter((problem) => !problem.includes("net::ERR_INTERNET_DISCONNECTED")), ...bob.problems]).toEqual([]);
  }, 120_000);

  it("loses and doubles nothing when the gateway of one side is killed mid-chat", async () => {
    const [ada, bob] = await twoInADirectChat();
    // Ada registered first and holds her socket: nginx gave Bob's connection to the other gateway.
    const adaGateway = fixture.gatewayIndexOfNode(await gatewayNodeOf(ada));
    const bobGateway = fixture.gatewayIndexOfNode(await gatewayNodeOf(bob));
    expect(adaGateway).toBeGreaterThanOrEqual(0);
    expect(bobGateway).toBeGreaterThanOrEqual(0);
    expect(adaGateway).not.toBe(bobGateway);
    const victim = fixture.cluster.gateways[adaGateway]!;

    const sent = { ada: ["ada before"], bob: ["bob before"] };
    // Just before: sent, and the gateway dies while they may still be on their way.
    await say(ada, "ada before");
    await say(bob, "bob before");
    await victim.kill();
    try {
      await banner(ada, "reconnecting").waitFor();
      // During: Ada's waits in her outbox; Bob's gateway is up.
      sent.ada.push("ada during");
      await say(ada, "ada during");
      sent.bob.push("bob during");
      await say(bob, "bob during");
      await bannerGone(ada);
      expect(fixture.gatewayIndexOfNode(await gatewayNodeOf(ada))).toBe(bobGateway);
      // After.
      sent.ada.push("ada after");
      await say(ada, "ada after");
      sent.bob.push("bob after");
      await say(bob, "bob after");

      // Every one stored, and said so: even Ada's acknowledged just before the kill, whose
      // "message:persisted" may have gone to the socket on the dead gateway (her sync after the
      // reconnect reads it again, and says it is stored).
      for (const text of sent.ada) await ownMessage(ada, text, "Saved").waitFor();
      for (const text of sent.bob) await ownMessage(bob, text, "Saved").waitFor();
      const all = ["hello", ...sent.ada, ...sent.bob];
      for (const person of [ada, bob]) for (const text of all) await messageWith(person, text).waitFor();

      // Once each, each side's in the order it was written, and the same order on both screens.
      const onAda = await contentsOf(ada);
      const onBob = await contentsOf(bob);
      expect([...onAda].sort()).toEqual([...all].sort());
      expect(onBob).toEqual(onAda);
      expect(onAda.filter((text) => sent.ada.includes(text))).toEqual(sent.ada);
      expect(onAda.filter((text) => sent.bob.includes(text))).toEqual(sent.bob);
      expect([...ada.problems, ...bob.problems]).toEqual([]);
    } finally {
      await victim.start();
    }
  }, 120_000);
});
