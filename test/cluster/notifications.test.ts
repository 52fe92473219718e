/**
 * Notifications for offline users on a real cluster: nginx in front of two gateway processes, the API
 * and the worker, on a private Redis and a database of this file's own, with the worker's webhook
 * pointed at a real HTTP receiver started by this file. Online users connect through nginx.
 *
 * A worker without NOTIFY_WEBHOOK_URL enqueues nothing: tested in-process, in
 * services/worker/src/notify/notifications.test.ts, since this cluster's worker has a URL.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { Types } from "mongoose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { QUEUE_NAMES } from "@parley/shared/queues";
import { redisKeys } from "@parley/shared/redis-keys";
import type { Message } from "@parley/protocol";

import { verifyWebhook } from "../../services/worker/src/notify/webhook-sender.js";
import type { RegisteredUser } from "../helpers/api-client.js";
import { closeAllClients, connectClient } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { eventually } from "../helpers/events.js";

const SECRET = "cluster-test-webhook-secret";
const TIMEOUT_MS = 500;

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  json: { type: string; userId: string; message: Message };
  /** What the receiver answered: a status, or "hang" (no answer until the sender gives up). */
  answer: number | "hang";
}

/** The receiver: records every POST and answers from a script per recipient (default 204). */
const deliveries: Delivery[] = [];
const scripts = new Map<string, (number | "hang")[]>();
const receiver = createServer((req, res: ServerResponse) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", () => {
    const json = JSON.parse(body) as Delivery["json"];
    const answer = scripts.get(json.userId)?.shift() ?? 204;
    deliveries.push({ headers: req.headers, body, json, answer });
    if (answer !== "hang") res.writeHead(answer).end();
  });
});

// Registered before the cluster's hook, so the worker starts with the receiver's address.
const workerEnv: Record<string, string> = {};
beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  Object.assign(workerEnv, {
    NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/parley/notify`,
    NOTIFY_WEBHOOK_SECRET: SECRET,
    NOTIFY_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
  });
});
const fixture = useCluster("notifications", { envFor: { worker: workerEnv } });

let redis: Redis | undefined;
let queue: Queue | undefined;
const clusterRedis = () => (redis ??= new Redis(fixture.cluster.redisUrl));
const notificationQueue = () => (queue ??= new Queue(QUEUE_NAMES.notifications, { connection: clusterRedis(), prefix: "{parley}" }));

afterEach(() => closeAllClients());
afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

const jobId = (message: Message, user: RegisteredUser) => `n-${message.id}-${user.id}`;
const deliveriesTo = (user: RegisteredUser, message: Message) =>
  deliveries.filter((d) => d.json.userId === user.id && d.json.message.id === message.id);

/** The BullMQ events of the notifications queue about `id` (`added`, `completed`, `failed`, …). */
async function jobEvents(id: string): Promise<string[]> {
  const entries = await clusterRedis().xrange(`{parley}:${QUEUE_NAMES.notifications}:events`, "-", "+");
  return entries
    .map(([, fields]) => Object.fromEntries(fields.flatMap((_, i) => (i % 2 ? [] : [[fields[i], fields[i + 1]]]))) as Record<string, string>)
    .filter((event) => event.jobId === id)
    .map((event) => event.event!);
}

async function postMessage(sender: RegisteredUser, conversationId: string, content: string): Promise<Message> {
  const res = await fixture.api.request<{ message: Message }>("POST", `/api/conversations/${conversationId}/messages`, {
    token: sender.token,
    body: { clientMsgId: `c-${new Types.ObjectId().toHexString()}`, content },
  });
  if (res.status !== 201) throw new Error(`send failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.message;
}

/** A sender (no socket: offline, but never notified of their own message) and a direct conversation with `recipient`. */
async function directFrom(label: string) {
  const sender = await fixture.api.register(`${label}_from`);
  const recipient = await fixture.api.register(`${label}_to`);
  const conversation = await fixture.api.direct(sender.token, recipient.id);
  return { sender, recipient, conversationId: conversation.id };
}

describe("notifications through a webhook", () => {
  it("sends an offline member exactly one signed notification, and none to an online member or the sender", async () => {
    const { api, cluster } = fixture;
    const sender = await api.register("sender");
    const present = await api.register("present");
    const away = await api.register("away");
    const group = await api.group(sender.token, "crew", [present.id, away.id]);
    await connectClient(cluster.url, present.token);
    // Presence is the connections hash the gateways write.
    const keys = redisKeys("parley");
    await eventually(async () => (await clusterRedis().hlen(keys.userConnections(present.id))) > 0, 5_000, "present is online");

    const sentAt = Date.now();
    const message = await postMessage(sender, group.id, "are you there?");

    await eventually(async () => (await jobEvents(jobId(message, away))).includes("completed"), 15_000, "notification delivered");
    const [delivery, ...more] = deliveriesTo(away, message);
    expect(more).toEqual([]);
    expect(delivery!.json).toEqual({ type: "message", userId: away.id, message });
    expect(delivery!.headers).toMatchObject({
      "content-type": "application/json",
      "x-parley-delivery": jobId(message, away),
      "x-parley-attempt": "1",
      "x-parley-signature": expect.stringMatching(/^sha256=[0-9a-f]{64}$/),
    });
    const timestamp = delivery!.headers["x-parley-timestamp"] as string;
    expect(Math.abs(Number(timestamp) * 1000 - sentAt)).toBeLessThan(30_000);
    expect(verifyWebhook({ secret: SECRET, body: delivery!.body, timestamp, signature: delivery!.headers["x-parley-signature"] as string })).toBe(true);
    expect(verifyWebhook({ secret: "not-the-secret-at-all", body: delivery!.body, timestamp, signature: delivery!.headers["x-parley-signature"] as string })).toBe(false);

    // All of a message's notifications are enqueued together: the online member and the sender got none.
    expect(await jobEvents(jobId(message, present))).toEqual([]);
    expect(await jobEvents(jobId(message, sender))).toEqual([]);
    expect(deliveries.filter((d) => d.json.message.id === message.id).map((d) => d.json.userId)).toEqual([away.id]);
  });

  it("retries a receiver that answered 500, and delivers once", async () => {
    const { sender, recipient, conversationId } = await directFrom("retry500");
    scripts.set(recipient.id, [500, 200]);
    const message = await postMessage(sender, conversationId, "second time lucky");

    await eventually(async () => (await jobEvents(jobId(message, recipient))).includes("completed"), 15_000, "notification delivered");
    const attempts = deliveriesTo(recipient, message);
    expect(attempts.map((d) => [d.answer, d.headers["x-parley-attempt"]])).toEqual([
      [500, "1"],
      [200, "2"],
    ]);
    expect(new Set(attempts.map((d) => d.headers["x-parley-delivery"]))).toEqual(new Set([jobId(message, recipient)]));
    expect(new Set(attempts.map((d) => d.body)).size).toBe(1);
  });

  it(`retries a receiver that does not answer within NOTIFY_WEBHOOK_TIMEOUT_MS (${TIMEOUT_MS} ms)`, async () => {
    const { sender, recipient, conversationId } = await directFrom("timeout");
    scripts.set(recipient.id, ["hang", 200]);
    const message = await postMessage(sender, conversationId, "anyone?");

    await eventually(async () => (await jobEvents(jobId(message, recipient))).includes("completed"), 15_000, "notification delivered");
    expect(deliveriesTo(recipient, message).map((d) => d.answer)).toEqual(["hang", 200]);
  });

  it("does not retry a receiver that answered 400", async () => {
    const { sender, recipient, conversationId } = await directFrom("rejected");
    scripts.set(recipient.id, [400, 200]);
    const message = await postMessage(sender, conversationId, "unwanted");

    await eventually(async () => (await jobEvents(jobId(message, recipient))).includes("failed"), 15_000, "notification failed");
    const job = await notificationQueue().getJob(jobId(message, recipient));
    expect(await job?.getState()).toBe("failed");
    expect(job?.attemptsMade).toBe(1);
    expect(deliveriesTo(recipient, message).map((d) => d.answer)).toEqual([400]);
    expect(scripts.get(recipient.id)).toEqual([200]);
  });
});
