/**
 * Typing indicators on a real cluster: nginx in front of two gateway processes, the API and the worker,
 * with the typer and the other members on different gateways. Typing expires after 2 s here.
 */

import { afterEach, describe, expect, it } from "vitest";

import { closeAllClients, type ClientSocket } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { collect, eventually, nextEvent } from "../helpers/events.js";

interface Typing {
  conversationId: string;
  userId: string;
  isTyping: boolean;
}

const TIMEOUT_MS = 2_000;

const fixture = useCluster("typing", { envFor: { gateway: { TYPING_TIMEOUT_MS: String(TIMEOUT_MS) } } });

afterEach(() => closeAllClients());

function emit(socket: ClientSocket, event: "typing:start" | "typing:stop", conversationId: string) {
  return socket.timeout(5_000).emitWithAck(event, { conversationId });
}

/** Alice on gateway 0; bob on gateway 1; alice's second device on gateway 1; carol outside. */
async function setup() {
  const { api } = fixture;
  const alice = await api.register("alice");
  const bob = await api.register("bob");
  const carol = await api.register("carol");
  const conversation = await api.direct(alice.token, bob.id);
  return {
    alice,
    bob,
    carol,
    conversationId: conversation.id,
    a: await fixture.connectTo(0, alice.token),
    a2: await fixture.connectTo(1, alice.token),
    b: await fixture.connectTo(1, bob.token),
    c: await fixture.connectTo(0, carol.token),
  };
}

describe("typing through nginx across two gateways", () => {
  it("start once, refresh silently, stop; other members only", async () => {
    const { alice, bob, conversationId, a, a2, b, c } = await setup();
    const atBob = collect<Typing>(b.socket, "typing");
    const atSelf = collect<Typing>(a2.socket, "typing");
    const atCarol = collect<Typing>(c.socket, "typing");

    const started = nextEvent<Typing>(b.socket, "typing");
    expect(await emit(a.socket, "typing:start", conversationId)).toEqual({ ok: true });
    expect(await started).toEqual({ conversationId, userId: alice.id, isTyping: true });
    expect(await emit(a.socket, "typing:start", conversationId)).toEqual({ ok: true });
    const stopped = nextEvent<Typing>(b.socket, "typing");
    expect(await emit(a.socket, "typing:stop", conversationId)).toEqual({ ok: true });
    expect(await stopped).toEqual({ conversationId, userId: alice.id, isTyping: false });

    // Bob's own typing is the marker: whatever alice caused reached every node before it.
    const marker = nextEvent<Typing>(a.socket, "typing");
    await emit(b.socket, "typing:start", conversationId);
    await marker;
    await eventually(() => atSelf.length === 1, 5_000, "bob's typing at alice's other device");
    expect(atBob.map((t) => t.isTyping)).toEqual([true, false]);
    expect(atSelf).toEqual([{ conversationId, userId: bob.id, isTyping: true }]);
    expect(atCarol).toEqual([]);
  });

  it("expires without a refresh", async () => {
    const { alice, conversationId, a, b } = await setup();
    const started = nextEvent(b.socket, "typing");
    await emit(a.socket, "typing:start", conversationId);
    const startedAt = Date.now();
    await started;
    const expired = await nextEvent<Typing>(b.socket, "typing", TIMEOUT_MS + 5_000);
    expect(expired).toEqual({ conversationId, userId: alice.id, isTyping: false });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
  });

  it("stops at once when the typing socket disconnects", async () => {
    const { alice, conversationId, a, b } = await setup();
    const started = nextEvent(b.socket, "typing");
    await emit(a.socket, "typing:start", conversationId);
    await started;
    const stopped = nextEvent<Typing>(b.socket, "typing", TIMEOUT_MS - 500);
    a.socket.disconnect();
    expect(await stopped).toEqual({ conversationId, userId: alice.id, isTyping: false });
  });

  it("refuses a non-member with FORBIDDEN and tells no one", async () => {
    const { conversationId, b, c } = await setup();
    const atBob = collect<Typing>(b.socket, "typing");
    expect(await emit(c.socket, "typing:start", conversationId)).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const error = nextEvent(c.socket, "error");
    c.socket.emit("typing:start", { conversationId });
    expect(await error).toMatchObject({ code: "FORBIDDEN", event: "typing:start" });
    expect(atBob).toEqual([]);
  });
});
