/**
 * One rule for every string of every client event: a lone UTF-16 surrogate or a NUL anywhere in a
 * payload is refused with VALIDATION naming the field, on a real gateway, before any handler or Redis
 * script sees it (a lone surrogate in a clientMsgId used to make every later edit of that message fail
 * in Redis's cjson).
 */
import type { Connection } from "mongoose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { clientEventSchemas, type ClientToServerEvents } from "@parley/protocol";
import type { Models } from "@parley/shared/models";

import { closeAllClients, connectClient, type ClientSocket } from "../../../../test/helpers/clients.js";
import { testMongoUrl } from "../../../../test/helpers/env.js";
import { openModels, startGatewayNode, type GatewayNode } from "../../../../test/helpers/in-process-gateway.js";
import { everyStringPayload, stringPaths, withStringAt } from "../../../../test/helpers/payloads.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { seedConversation, seedUser } from "../../../../test/helpers/seed.js";

const redis = useRedisServer("well-formed");
let connection: Connection;
let models: Models;
let node: GatewayNode;
let socket: ClientSocket;

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("well-formed")));
  node = await startGatewayNode("node-wf", redis.url, models, { RATE_LIMITS_ENABLED: "false" });
  socket = (await connectClient(node.url, (await seedUser(models)).token)).socket;
});

afterAll(async () => {
  closeAllClients();
  await node?.close();
  await connection?.close();
});

const MALFORMED = { "a lone high surrogate": "x\ud800y", "a lone low surrogate": "\udc00", "a NUL": "nul\u0000" };
const events = Object.keys(clientEventSchemas) as (keyof ClientToServerEvents)[];

describe("malformed text in client events", () => {
  it.each(Object.entries(MALFORMED))("refuses %s in every string field of every event, naming the field", async (_, bad) => {
    let checked = 0;
    for (const event of events) {
      const payload = everyStringPayload(event);
      for (const path of stringPaths(payload)) {
        const ack = (await socket.timeout(5_000).emitWithAck(event, withStringAt(payload, path, bad) as never)) as {
          ok: boolean;
          error?: { code: string; issues?: { path: string }[] };
        };
        expect(ack, `${event} ${path.join(".")}`).toMatchObject({ ok: false, error: { code: "VALIDATION", issues: [{ path: path.join(".") }] } });
        checked++;
      }
    }
    // Every event has at least one string (its ids), and some have many.
    expect(checked).toBeGreaterThan(events.length);
    expect(socket.connected).toBe(true);
  });

  it("refuses a malformed object key (a reactions-like map) the same way", async () => {
    const ack = (await socket.timeout(5_000).emitWithAck("message:send", { ...(everyStringPayload("message:send") as object), "\ud800": 1 } as never)) as {
      ok: boolean;
      error?: { code: string };
    };
    expect(ack).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
  });

  it("keeps well-formed text as sent, and edits and reactions of such a message work", async () => {
    const alice = await seedUser(models);
    const bob = await seedUser(models);
    const conversationId = await seedConversation(models, [alice, bob]);
    const { socket: a } = await connectClient(node.url, alice.token);
    const text = "héllo 👋🏽 世界 \u{1F1EB}\u{1F1F7} e\u0301";
    const sent = (await a.timeout(5_000).emitWithAck("message:send", { conversationId, clientMsgId: "cid-👋🏽-世界", content: text })) as {
      ok: true;
      message: { id: string; content: string; clientMsgId: string };
    };
    expect(sent).toMatchObject({ ok: true, message: { content: text, clientMsgId: "cid-👋🏽-世界" } });
    const messageId = sent.message.id;
    expect(await a.timeout(5_000).emitWithAck("message:edit", { conversationId, messageId, content: `${text}!` })).toMatchObject({ ok: true });
    expect(await a.timeout(5_000).emitWithAck("message:react", { conversationId, messageId, emoji: "👍🏽" })).toMatchObject({ ok: true, added: true });
  });
});
