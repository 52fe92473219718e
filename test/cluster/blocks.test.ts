/**
 * Blocking on a real cluster: nginx in front of two gateway processes, the API and the worker. The block
 * is made through the API and must hold on both gateways as soon as it is answered.
 */
import { randomUUID } from "node:crypto";

import { afterEach, describe, expect, it } from "vitest";

import type { Message } from "@parley/protocol";

import { closeAllClients, type ClientSocket } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { nextEventWhere } from "../helpers/events.js";

const fixture = useCluster("blocks");

afterEach(() => closeAllClients());

const send = (socket: ClientSocket, conversationId: string, content: string) =>
  socket.timeout(5_000).emitWithAck("message:send", { conversationId, clientMsgId: randomUUID(), content });

/** Resolves when `socket` gets the message of `conversationId` with `content`. */
const arrival = (socket: ClientSocket, conversationId: string, content: string) =>
  nextEventWhere<Message>(socket, "message:new", (m) => m.conversationId === conversationId && m.content === content);

describe("blocking across two gateways", () => {
  it("refuses the next send and call on either gateway right after the block is answered, and allows them after the unblock", async () => {
    const { api } = fixture;
    const alice = await api.register("alice");
    const bob = await api.register("bob");
    const conversation = await api.direct(alice.token, bob.id);
    const a = await fixture.connectTo(0, alice.token);
    const b = await fixture.connectTo(1, bob.token);

    const first = arrival(a.socket, conversation.id, "hello");
    expect(await send(b.socket, conversation.id, "hello")).toMatchObject({ ok: true });
    await first;

    const blocked = await api.request("POST", "/api/users/me/blocks", { token: alice.token, body: { userId: bob.id } });
    expect(blocked.status).toBe(200);
    const refused = { ok: false, error: { code: "FORBIDDEN", message: expect.stringMatching(/one of you has blocked the other/) } };
    expect(await send(b.socket, conversation.id, "are you there?")).toMatchObject(refused);
    expect(await send(a.socket, conversation.id, "bye")).toMatchObject(refused);
    expect(await b.socket.timeout(5_000).emitWithAck("call:initiate", { calleeId: alice.id, media: "audio" })).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN" },
    });
    expect(await b.socket.timeout(5_000).emitWithAck("presence:query", { userIds: [alice.id] })).toEqual({
      ok: true,
      presence: { [alice.id]: { status: "unknown", lastSeen: null } },
    });

    const unblocked = await api.request("DELETE", `/api/users/me/blocks/${bob.id}`, { token: alice.token });
    expect(unblocked.status).toBe(204);
    const again = arrival(a.socket, conversation.id, "friends?");
    expect(await send(b.socket, conversation.id, "friends?")).toMatchObject({ ok: true });
    await again;
    expect(await b.socket.timeout(5_000).emitWithAck("presence:query", { userIds: [alice.id] })).toEqual({
      ok: true,
      presence: { [alice.id]: { status: "online", lastSeen: null } },
    });
  });
});
