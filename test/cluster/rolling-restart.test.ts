/**
 * A rolling restart of every gateway, one at a time, under steady message traffic through nginx: no
 * acknowledged message is lost, every client ends up connected again, and a draining gateway reports
 * itself unready at once.
 */
import { setTimeout as delay } from "node:timers/promises";

import { afterAll, describe, expect, it } from "vitest";

import type { Message } from "@parley/protocol";

import { closeAllClients, connectClient, type ClientSocket } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { eventually } from "../helpers/events.js";

const fixture = useCluster("rolling-restart", {
  env: { RATE_LIMITS_ENABLED: "false" },
  envFor: { gateway: { SHUTDOWN_TIMEOUT_MS: "10000", DRAIN_SPREAD_MS: "1000" } },
});

afterAll(() => closeAllClients());

const CLIENTS = 6;
const SEND_EVERY_MS = 40;

/**
 * Sends until acknowledged, with the same clientMsgId on every attempt, as a client must when an ack is
 * lost to a reconnect: the server's deduplication makes the retry safe.
 */
async function sendUntilAcked(socket: ClientSocket, conversationId: string, clientMsgId: string): Promise<Message> {
  for (;;) {
    try {
      const ack = await socket.timeout(2_000).emitWithAck("message:send", { conversationId, clientMsgId, content: clientMsgId });
      if (ack.ok) return ack.message;
      if (ack.error.code !== "UNAVAILABLE" && ack.error.code !== "INTERNAL") throw new Error(`refused: ${ack.error.code}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("refused")) throw err;
      // Timed out (the socket was reconnecting): try again.
    }
    await delay(50);
  }
}

async function readyStatus(url: string): Promise<number> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

describe("a rolling restart of every gateway", () => {
  it("loses no acknowledged message, and every client reconnects", { timeout: 120_000 }, async () => {
    const { api, cluster } = fixture;
    const users = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => api.register(`rr${i}`)));
    const group = await api.group(users[0]!.token, "rolling", users.slice(1).map((u) => u.id));
    const clients = await Promise.all(
      users.map((user) =>
        connectClient(cluster.url, user.token, { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 }),
      ),
    );
    const readyAfter = new Map<ClientSocket, number>();
    for (const { socket } of clients) socket.on("session:ready", () => readyAfter.set(socket, Date.now()));

    const acked: Message[] = [];
    let sending = true;
    const senders = clients.map(async ({ socket }, i) => {
      for (let n = 0; sending; n++) {
        acked.push(await sendUntilAcked(socket, group.id, `c${i}-${n}`));
        await delay(SEND_EVERY_MS);
      }
    });

    await eventually(() => acked.length >= 30, 10_000, "traffic flowing");
    const restartsBegan = Date.now();
    for (const gateway of cluster.gateways) {
      const sent = acked.length;
      const stopping = gateway.stop();
      // Readiness flips to 503 as soon as the drain begins, while the process still runs.
      await eventually(async () => (await readyStatus(gateway.url)) === 503, 5_000, "readyz 503 while draining");
      await stopping;
      await gateway.start();
      // The traffic went on meanwhile, through the other gateway.
      await eventually(() => acked.length >= sent + 20, 15_000, "traffic after the restart");
    }
    // Every gateway was restarted, so every client was moved: each is connected again, with a session
    // that began after the restarts did.
    await eventually(
      () => clients.every(({ socket }) => socket.connected && (readyAfter.get(socket) ?? 0) > restartsBegan),
      15_000,
      "every client reconnected",
    );
    sending = false;
    await Promise.all(senders);

    // Nothing acknowledged is lost: history holds every acked message, once, and no seq is missing.
    const bySeq = new Map(acked.map((m) => [m.seq, m]));
    expect(bySeq.size).toBe(acked.length);
    const last = Math.max(...bySeq.keys());
    expect([...bySeq.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    const stored = await eventually(async () => {
      const messages: Message[] = [];
      let before: number | null | undefined;
      do {
        const page = await api.history(users[0]!.token, group.id, `?limit=100${before ? `&before=${before}` : ""}`);
        messages.unshift(...page.body.messages);
        before = page.body.nextBefore;
      } while (before);
      return messages.length === acked.length ? messages : undefined;
    }, 20_000, "every acked message in history");
    expect(stored.map((m) => m.id)).toEqual([...bySeq.values()].sort((a, b) => a.seq - b.seq).map((m) => m.id));
  });
});
