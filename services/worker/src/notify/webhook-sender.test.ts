/**
 * The webhook sender against a real local HTTP receiver: the request it makes, its signature, and how
 * each kind of answer (or silence) is classified for retries.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";

import { Types } from "mongoose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { freePort } from "../../../../scripts/lib/ports.js";
import { fakeMessage } from "../../../../test/helpers/seed.js";
import { PermanentDeliveryError, RetryLaterError, type Notification } from "./notification-sender.js";
import { notificationBackoff } from "./notify-worker.js";
import { WebhookSender, parseRetryAfter, signWebhook, verifyWebhook } from "./webhook-sender.js";

const SECRET = "a-webhook-secret-of-some-length";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver answers, by the `userId` of the notification. */
const answers = new Map<string, (res: ServerResponse) => void>();
const received: Received[] = [];
let url: string;
const server = createServer((req, res) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", () => {
    received.push({ headers: req.headers, body });
    const answer = answers.get((JSON.parse(body) as { userId: string }).userId);
    if (answer) answer(res);
    else res.writeHead(204).end();
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/parley?token=t0k3n`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function notification(): Notification {
  const userId = new Types.ObjectId().toHexString();
  return { type: "message", userId, message: fakeMessage(new Types.ObjectId().toHexString(), 7) };
}

function sender(timeoutMs = 2_000): WebhookSender {
  return new WebhookSender({ url, secret: SECRET, timeoutMs });
}

function answering(n: Notification, answer: (res: ServerResponse) => void): Notification {
  answers.set(n.userId, answer);
  return n;
}

const context = { deliveryId: "n-abc-def", attempt: 2 };

describe("WebhookSender", () => {
  it("POSTs the notification as signed JSON and resolves on 2xx", async () => {
    const n = notification();
    const started = Date.now();
    await sender().send(n, context);
    const request = received.find((r) => r.body.includes(n.userId))!;
    expect(JSON.parse(request.body)).toEqual({ type: "message", userId: n.userId, message: n.message });
    expect(request.headers).toMatchObject({
      "content-type": "application/json",
      "x-parley-delivery": "n-abc-def",
      "x-parley-attempt": "2",
    });
    const timestamp = request.headers["x-parley-timestamp"] as string;
    expect(Number(timestamp)).toBeGreaterThanOrEqual(Math.floor(started / 1000));
    expect(request.headers["x-parley-signature"]).toBe(signWebhook(SECRET, timestamp, request.body));
    expect(request.headers["x-parley-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhook({ secret: SECRET, body: request.body, timestamp, signature: request.headers["x-parley-signature"] as string })).toBe(true);
  });

  it.each([
    [500, Error],
    [503, Error],
    [408, Error],
    [429, Error],
  ])("treats %i as transient", async (status) => {
    const n = answering(notification(), (res) => res.writeHead(status).end("nope"));
    const err = await sender().send(n, context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect((err as Error).message).toContain(String(status));
  });

  it("honours Retry-After", async () => {
    const n = answering(notification(), (res) => res.writeHead(429, { "retry-after": "7" }).end());
    const err = await sender().send(n, context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryLaterError);
    expect((err as RetryLaterError).retryAfterMs).toBe(7_000);
    expect(notificationBackoff(1, err as Error)).toBe(7_000);
    expect(notificationBackoff(1, new Error("x"))).toBe(250);
  });


  it.each([400, 401, 404, 410, 301])("treats %i as permanent", async (status) => {
    const n = answering(notification(), (res) => res.writeHead(status, status === 301 ? { location: "http://elsewhere/" } : {}).end());
    await expect(sender().send(n, context)).rejects.toBeInstanceOf(PermanentDeliveryError);
  });

  it("gives up on a receiver that does not answer in time, as a transient failure", async () => {
    let release: () => void = () => {};
    const n = answering(notification(), (res) => {
      release = () => res.writeHead(200).end();
    });
    const started = performance.now();
    const err = await sender(200).send(n, context).catch((e: unknown) => e);
    release();
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect((err as Error).message).toContain("no answer within 200 ms");
  });

  it("treats a refused connection as transient", async () => {
    const closed = new WebhookSender({ url: `http://127.0.0.1:${await freePort()}/`, secret: SECRET, timeoutMs: 1_000 });
    const err = await closed.send(notification(), context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
  });

  it("never shows its secret, nor the URL's query, when inspected or logged", () => {
    const s = sender();
    expect(inspect(s, { depth: 5 })).not.toContain(SECRET);
    expect(JSON.stringify(s)).not.toContain(SECRET);
    expect(s.target).toBe(url.split("?")[0]);
  });
});

describe("verifyWebhook", () => {
  const body = '{"type":"message"}';
  const now = 1_767_312_000_000;
  const timestamp = String(now / 1000);
  const signature = signWebhook(SECRET, timestamp, body);

  it("accepts the signature of the body and timestamp", () => {
    expect(verifyWebhook({ secret: SECRET, body, timestamp, signature, now })).toBe(true);
  });

  it.each([
    ["a changed body", { body: '{"type":"massage"}' }],
    ["another secret", { secret: "another-secret-entirely" }],
    ["a changed timestamp", { timestamp: String(now / 1000 + 1) }],
    ["a stale timestamp", { now: now + 301_000 }],
    ["no signature", { signature: undefined }],
    ["a malformed timestamp", { timestamp: "12abc" }],
  ])("refuses %s", (_, change) => {
    expect(verifyWebhook({ secret: SECRET, body, timestamp, signature, now, ...change })).toBe(false);
  });
});

describe("notificationBackoff", () => {
  it("retries quickly at first, then every 15 minutes, for about 80 minutes in all", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => notificationBackoff(n))).toEqual([250, 1_000, 4_000, 16_000, 64_000, 256_000, 900_000, 900_000]);
    // NOTIFICATION_JOB_OPTIONS: 12 attempts, so 11 waits.
    const total = Array.from({ length: 11 }, (_, i) => notificationBackoff(i + 1)).reduce((x, y) => x + y, 0);
    expect(total / 60_000).toBeGreaterThan(60);
    expect(total / 60_000).toBeLessThan(90);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates, caps long waits, and ignores garbage", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("86400", now)).toBe(300_000);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
