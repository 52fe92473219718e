/**
 * Limits and abuse on a real cluster: nginx in front of two gateway processes, the API and the worker,
 * on a private Redis and a database of this file's own. Every client connects through nginx.
 *
 * The cluster runs with small buckets (below) so that limits are reached in a few events and a refusal
 * leaves a wide window (hundreds of milliseconds) before the next token. Clients at other addresses send
 * `X-Forwarded-For`: nginx appends the address it sees (127.0.0.1), and the API, which trusts loopback
 * proxies, takes the one before it.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

import { Types } from "mongoose";
import { afterEach, describe, expect, it } from "vitest";

import { MAX_CONTENT_LENGTH, type EventError, type Message } from "@parley/protocol";

import type { RegisteredUser } from "../helpers/api-client.js";
import { closeAllClients, connectClient, type ClientSocket, type ConnectedClient } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { collect, eventually, nextEvent } from "../helpers/events.js";

/** The gateways' largest Socket.IO message (their default). */
const MAX_PAYLOAD_BYTES = 65_536;
const LIMITS = {
  RATE_LIMIT_MESSAGE_RATE: "2",
  RATE_LIMIT_MESSAGE_BURST: "20",
  RATE_LIMIT_TYPING_RATE: "0.2",
  RATE_LIMIT_TYPING_BURST: "3",
  RATE_LIMIT_LOGIN_RATE: "0.01",
  RATE_LIMIT_LOGIN_BURST: "4",
  RATE_LIMIT_LOGIN_PAIR_RATE: "0.0001",
  RATE_LIMIT_LOGIN_PAIR_BURST: "2",
  RATE_LIMIT_LOGIN_ADDRESS_RATE: "0.0001",
  RATE_LIMIT_LOGIN_ADDRESS_BURST: "4",
};
/** A connected pair, with the conversation's id at hand. */
async function connectedPair(transport?: "websocket" | "polling") {
  const pair = await fixture.connectedPair(transport);
  return { ...pair, conversationId: pair.conversation.id };
}

// The login tests speak for clients of many addresses: nginx believes their X-Forwarded-For from
// 127.0.0.1, as it would a load balancer's.
const fixture = useCluster("limits", {
  env: { ...LIMITS, MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES) },
  nginxTrustedProxies: ["127.0.0.1"],
});

afterEach(() => closeAllClients());

type Ack = { ok: true; message: Message } | { ok: false; error: { code: string; retryAfterMs?: number } };

function send(socket: ClientSocket, conversationId: string, content = "hello"): Promise<Ack> {
  const payload = { conversationId, clientMsgId: `c-${new Types.ObjectId().toHexString()}`, content };
  return socket.timeout(10_000).emitWithAck("message:send", payload) as Promise<Ack>;
}

function postMessage(user: RegisteredUser, conversationId: string) {
  return fetch(`${fixture.cluster.url}/api/conversations/${conversationId}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
    body: JSON.stringify({ clientMsgId: `r-${new Types.ObjectId().toHexString()}`, content: "over REST" }),
  });
}

describe("per-user rate limits across the cluster", () => {
  it("shares a user's message bucket between both gateways and the REST API", async () => {
    const { alice, conversationId, a } = await connectedPair();
    const other = await connectClient(fixture.cluster.url, alice.token);
    expect(other.session.node).not.toBe(a.session.node);

    const acks = [];
    for (let i = 0; i < 20; i++) acks.push(await send(i % 2 ? other.socket : a.socket, conversationId));
    expect(acks.every((ack) => ack.ok)).toBe(true);
    // A token comes back every 500 ms; sending on until the bucket is empty takes at most one more.
    let refused: Ack | undefined;
    for (let i = 0; i < 3 && !refused; i++) {
      const ack = await send(i % 2 ? a.socket : other.socket, conversationId);
      if (!ack.ok) refused = ack;
    }
    expect(refused).toMatchObject({ ok: false, error: { code: "RATE_LIMITED", retryAfterMs: expect.any(Number) } });
    const retryAfterMs = (refused as { error: { retryAfterMs: number } }).error.retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(500);

    // The REST API takes from the same bucket. A token may come back between the refusal above and
    // this request (retryAfterMs can be a few ms); it is then spent here, and the next request is refused.
    let res = await postMessage(alice, conversationId);
    for (let i = 0; i < 2 && res.status === 201; i++) res = await postMessage(alice, conversationId);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await res.json()).toMatchObject({ error: { code: "RATE_LIMITED", retryAfterMs: expect.any(Number) } });

    // After the wait the bucket has a token again, wherever the user sends from.
    await eventually(async () => (await send(a.socket, conversationId)).ok, 5_000, "a send accepted again");
  });

  it("limits typing per user: a refused typing:start (no ack) is an error event, and reaches nobody", async () => {
    const { conversationId, a, b } = await connectedPair();
    const seen = collect<{ isTyping: boolean }>(b.socket, "typing");
    for (let i = 0; i < 3; i++) {
      const ack = await a.socket.timeout(5_000).emitWithAck("typing:start", { conversationId });
      expect(ack).toMatchObject({ ok: true });
    }
    await eventually(() => seen.length >= 1, 5_000, "typing delivered");
    const error = nextEvent<EventError & { retryAfterMs?: number }>(a.socket, "error");
    a.socket.emit("typing:stop", { conversationId });
    expect(await error).toMatchObject({ code: "RATE_LIMITED", event: "typing:stop", retryAfterMs: expect.any(Number) });
    // The refused stop never reached the typing feature: Bob's last state is still "typing".
    expect(seen.at(-1)?.isTyping).toBe(true);
  });

  it("limits call signaling with a burst that leaves room for ICE candidates", async () => {
    const { a } = await connectedPair();
    const callId = crypto.randomUUID();
    // Default call bucket: 100 at once, 10 per second. None of these names a real call.
    const acks = await Promise.all(
      Array.from({ length: 110 }, () =>
        a.socket.timeout(10_000).emitWithAck("call:ice-candidate", { callId, candidate: { candidate: "candidate:1 1 udp 1 10.0.0.1 9 typ host" } }),
      ),
    );
    const codes = acks.map((ack) => (ack.ok ? "ok" : ack.error.code));
    expect(codes.filter((c) => c !== "RATE_LIMITED").length).toBeGreaterThanOrEqual(100);
    expect(codes).toContain("RATE_LIMITED");
  });

  it("limits logins per address and username, then per username, exempting the owner's known addresses", async () => {
    const { api } = fixture;
    const victim = await api.register("victim");
    const bystander = await api.register("bystander");
    const login = (username: string, password: string, address: string) =>
      fetch(`${fixture.cluster.url}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": address },
        body: JSON.stringify({ username, password }),
      });
    const guess = async (address: string, i: number) => (await login(victim.user.username, `guess-${i}-wrong`, address)).status;

    // One address: its pair burst (2), right or wrong, whatever the username's case.
    expect([await guess("198.51.100.1", 1), await guess("198.51.100.1", 2)]).toEqual([401, 401]);
    const refused = await login(victim.user.username.toUpperCase(), "correct horse battery", "198.51.100.1");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(60);
    expect(await refused.json()).toMatchObject({ error: { code: "RATE_LIMITED", retryAfterMs: expect.any(Number) } });

    // The owner from another address: a login that also takes the username's fourth and last token
    // after one more guess from elsewhere.
    expect((await login(victim.user.username, "correct horse battery", "198.51.100.2")).status).toBe(200);
    expect(await guess("198.51.100.3", 3)).toBe(401);
    const exhausted = await login(victim.user.username, `guess-4-wrong`, "198.51.100.4");
    expect(exhausted.status).toBe(429);
    // 0.01 tokens per second: the next attempt is 100 s away.
    expect(Number(exhausted.headers.get("retry-after"))).toBeGreaterThan(60);

    // Where the owner logged in before, and where they registered, they still can; a new address cannot.
    expect((await login(victim.user.username, "correct horse battery", "198.51.100.2")).status).toBe(200);
    expect((await login(victim.user.username, "correct horse battery", "127.0.0.1")).status).toBe(200);
    expect((await login(victim.user.username, "correct horse battery", "198.51.100.5")).status).toBe(429);
    expect((await login(bystander.user.username, "correct horse battery", "198.51.100.5")).status).toBe(200);
  });

  it("limits logins per address, whatever the username: a spray is refused before any password check", async () => {
    const { api } = fixture;
    const owner = await api.register("sprayed");
    const spray = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fetch(`${fixture.cluster.url}/api/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.9" },
          body: JSON.stringify({ username: `nobody_${i}_${owner.id}`, password: "guess" }),
        }),
      ),
    );
    const codes = spray.map((res) => res.status).sort();
    expect(codes).toEqual([...Array<number>(4).fill(401), ...Array<number>(8).fill(429)]);
    const res = await fetch(`${fixture.cluster.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.10" },
      body: JSON.stringify({ username: owner.user.username, password: "correct horse battery" }),
    });
    expect(res.status).toBe(200);
  });
});

describe("payload limits", () => {
  it(`refuses content over ${MAX_CONTENT_LENGTH} characters with VALIDATION and keeps the socket`, async () => {
    const { conversationId, a } = await connectedPair();
    const ack = await send(a.socket, conversationId, "x".repeat(MAX_CONTENT_LENGTH + 1));
    expect(ack).toMatchObject({ ok: false, error: { code: "VALIDATION", issues: [{ path: "content" }] } });
    expect(await send(a.socket, conversationId, "é".repeat(MAX_CONTENT_LENGTH))).toMatchObject({ ok: true });
  });

  it.each([
    ["websocket", 100_000],
    ["websocket", 4_000_000],
    ["polling", 100_000],
  ] as const)("closes a %s connection that sends a %i-byte message, and the gateway serves others", async (transport, size) => {
    const { conversationId, a, b } = await connectedPair(transport);
    const offender = await connectClient(fixture.cluster.url, (await fixture.api.register("big")).token, { transports: [transport] });
    // The offender shares a gateway with one of the pair, who must keep being served.
    expect([a.session.node, b.session.node]).toContain(offender.session.node);

    const closed = nextEvent<string>(offender.socket, "disconnect", 10_000);
    offender.socket.emit("message:send", { conversationId, clientMsgId: "big", content: "x".repeat(size) });
    expect(await closed).toMatch(/transport (close|error)/);

    const atB = nextEvent<Message>(b.socket, "message:new");
    expect(await send(a.socket, conversationId, "still here")).toMatchObject({ ok: true });
    expect((await atB).content).toBe("still here");
    const atA = nextEvent<Message>(a.socket, "message:new");
    expect(await send(b.socket, conversationId, "me too")).toMatchObject({ ok: true });
    expect((await atA).content).toBe("me too");
  });
});

/** Runs in a worker thread, so that its sending does not share an event loop with the latency probe. */
const FLOODER = `
const { parentPort, workerData } = require("node:worker_threads");
const { io } = require(workerData.client);
const { url, token, conversationId, window } = workerData;
const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false, forceNew: true });
const accepted = [];
const refusals = [];
const other = [];
let inflight = 0, next = 0, stopping = false;
const finish = () => {
  if (!stopping || inflight > 0) return;
  socket.disconnect();
  parentPort.postMessage({ type: "done", accepted, refused: refusals.length, minRetryAfterMs: Math.min(...refusals), other });
};
const pump = () => {
  while (!stopping && inflight < window) {
    inflight++;
    const clientMsgId = "flood-" + next++;
    socket.timeout(30000).emit("message:send", { conversationId, clientMsgId, content: "flood " + clientMsgId }, (err, res) => {
      inflight--;
      if (err) other.push(String(err));
      else if (res.ok) accepted.push(res.message.id);
      else if (res.error.code === "RATE_LIMITED") refusals.push(res.error.retryAfterMs);
      else other.push(res.error.code);
      if (stopping) finish(); else pump();
    });
  }
};
socket.once("session:ready", () => parentPort.postMessage({ type: "ready" }));
socket.once("connect_error", (err) => parentPort.postMessage({ type: "error", message: String(err) }));
parentPort.on("message", (command) => {
  if (command === "start") pump();
  if (command === "stop") { stopping = true; finish(); }
});
`;

interface FloodResult {
  accepted: string[];
  refused: number;
  minRetryAfterMs: number;
  other: string[];
}

function startFlooder(token: string, conversationId: string) {
  const worker = new Worker(FLOODER, {
    eval: true,
    workerData: { client: createRequire(import.meta.url).resolve("socket.io-client"), url: fixture.cluster.url, token, conversationId, window: 64 },
  });
  const waiting = new Map<string, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  const next = (type: string) => new Promise((resolve, reject) => waiting.set(type, { resolve, reject }));
  const fail = (err: Error) => {
    for (const { reject } of waiting.values()) reject(err);
  };
  worker.on("error", fail);
  worker.on("message", (msg: { type: string }) => {
    if (msg.type === "error") fail(new Error(`flooder: ${JSON.stringify(msg)}`));
    else waiting.get(msg.type)?.resolve(msg);
  });
  const ready = next("ready");
  return {
    ready,
    start: () => worker.postMessage("start"),
    async stop(): Promise<FloodResult> {
      const done = next("done");
      worker.postMessage("stop");
      const result = (await done) as FloodResult;
      await worker.terminate();
      return result;
    },
  };
}

/** Delivery latencies (ms) of `count` messages, alternating directions, one every `intervalMs`. */
async function probeLatency(x: ConnectedClient, y: ConnectedClient, conversationId: string, count: number, intervalMs: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const [from, to] = i % 2 ? [y, x] : [x, y];
    const started = performance.now();
    const delivered = nextEvent<Message>(to.socket, "message:new", 10_000);
    const ack = await send(from.socket, conversationId, `probe ${i}`);
    if (!ack.ok) throw new Error(`probe send refused: ${JSON.stringify(ack)}`);
    await delivered;
    latencies.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return latencies;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Stored messages of a conversation, oldest first, all pages. */
async function history(user: RegisteredUser, conversationId: string): Promise<Message[]> {
  const messages: Message[] = [];
  let before: number | null | undefined;
  do {
    const res = await fixture.api.history(user.token, conversationId, `?limit=100${before ? `&before=${before}` : ""}`);
    if (res.status !== 200) throw new Error(`history: ${res.status}`);
    messages.unshift(...res.body.messages);
    before = res.body.nextBefore;
  } while (before);
  return messages;
}

describe("a flooding client", () => {
  it("is refused, does not starve another conversation, and loses none of its accepted messages", async () => {
    const { api, cluster } = fixture;
    const flooder = await api.register("flooder");
    const target = await api.register("target");
    const floodedConversation = await api.direct(flooder.token, target.id);
    const { conversationId, a, b } = await connectedPair();

    const flood = startFlooder(flooder.token, floodedConversation.id);
    await flood.ready;
    // 18 messages each in all (warm-up included): inside their bursts of 20, whatever the refill.
    const SAMPLES = 16;
    const INTERVAL_MS = 50;
    await probeLatency(a, b, conversationId, 4, INTERVAL_MS); // warm-up: connections, caches, JIT
    const baseline = await probeLatency(a, b, conversationId, SAMPLES, INTERVAL_MS);
    flood.start();
    const underFlood = await probeLatency(a, b, conversationId, SAMPLES, INTERVAL_MS);
    const result = await flood.stop();

    const stats = (v: number[]) => ({ p50: Math.round(percentile(v, 50)), p90: Math.round(percentile(v, 90)) });
    console.info(`flood: ${result.accepted.length} accepted, ${result.refused} refused; latency (ms) baseline ${JSON.stringify(stats(baseline))}, under flood ${JSON.stringify(stats(underFlood))}`);

    // The flooder was refused, with a wait to honour, and got nothing but acceptances and refusals.
    expect(result.refused).toBeGreaterThan(0);
    expect(result.minRetryAfterMs).toBeGreaterThan(0);
    expect(result.other).toEqual([]);
    // Its burst and the refill during the flood, not more.
    expect(result.accepted.length).toBeGreaterThanOrEqual(20);
    expect(result.accepted.length).toBeLessThan(20 + 2 * 60);

    // The other conversation is served while the flood is refused: each probe above was accepted and
    // delivered. How fast is the bench's to measure, not a test's (the suite runs another test file
    // alongside, and an under-flood p50 of 54 ms against a 7 ms baseline has been seen): this bound
    // only catches a conversation starved by the flood.
    expect(percentile(underFlood, 50)).toBeLessThan(500);

    // Every accepted message is stored, and nothing else.
    await eventually(async () => (await history(flooder, floodedConversation.id)).length >= result.accepted.length, 30_000, "flood persisted");
    const stored = await history(flooder, floodedConversation.id);
    expect(stored.map((m) => m.id).sort()).toEqual([...result.accepted].sort());
    expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(cluster.gateways.every((g) => g.running)).toBe(true);
  }, 90_000);
});
