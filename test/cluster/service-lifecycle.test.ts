/**
 * How the API and the worker stop, and what every service writes to its log, on a real cluster.
 */
import { request } from "node:http";
import { readFileSync } from "node:fs";

import { Queue } from "bullmq";
import { Types } from "mongoose";
import { afterAll, describe, expect, it } from "vitest";

import { closeAllClients, connectClient } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { TEST_JWT_SECRET } from "../helpers/env.js";
import { eventually, nextEvent } from "../helpers/events.js";

const BATCH_WAIT_MS = 5_000;

const fixture = useCluster("service-lifecycle", {
  logLevel: "debug",
  env: { RATE_LIMITS_ENABLED: "false" },
  // A batch waits long for company, so that a SIGTERM finds one being filled.
  envFor: { worker: { PERSIST_BATCH_WAIT_MS: String(BATCH_WAIT_MS) } },
});

afterAll(() => closeAllClients());

describe("SIGTERM", () => {
  it("lets the API finish a request that is in flight", async () => {
    const { api } = fixture.cluster;
    const body = JSON.stringify({ username: `late_${Date.now()}`, password: "a long enough password" });
    const answered = new Promise<number>((resolve, reject) => {
      const req = request(`${api.url}/api/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      // Half the body now; the rest once the API is shutting down.
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 300);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stopping = api.stop();
    expect(await answered).toBe(201);
    await stopping;
    expect(api.process?.running).toBe(false);
    await api.start();
  });

  it("lets the worker write the batch it is filling before it exits", async () => {
    const { cluster } = fixture;
    const queue = new Queue("persist", { connection: { url: cluster.redisUrl }, prefix: "{parley}" });
    try {
      const conversationId = new Types.ObjectId().toHexString();
      const messages = Array.from({ length: 20 }, (_, i) => ({
        id: new Types.ObjectId().toHexString(),
        conversationId,
        seq: i + 1,
        senderId: new Types.ObjectId().toHexString(),
        clientMsgId: `drain-${i}`,
        content: `m${i}`,
        type: "text" as const,
        createdAt: new Date().toISOString(),
      }));
      await queue.addBulk(messages.map((m) => ({ name: "message" as const, data: m, opts: { jobId: m.id } })));
      await eventually(async () => (await queue.getJobCounts("active")).active === messages.length, 5_000, "jobs active");

      const stopping = Date.now();
      await cluster.worker.stop();
      // Well before PERSIST_BATCH_WAIT_MS: the batch was written because the worker was stopping, not
      // because its wait ran out.
      expect(Date.now() - stopping).toBeLessThan(BATCH_WAIT_MS);
      expect(await queue.getJobCounts("active", "completed", "failed")).toEqual({ active: 0, completed: messages.length, failed: 0 });
      const models = await fixture.models();
      expect(await models.Message.countDocuments({ conversationId })).toBe(messages.length);
    } finally {
      await queue.close();
      await cluster.worker.start();
    }
  });
});

describe("logs", () => {
  it("are JSON lines with the node, the socket id and the request id, and never hold a secret", async () => {
    const { api, cluster } = fixture;
    const alice = await api.register("logger");
    const bob = await api.register("logged");
    const conversation = await api.direct(alice.token, bob.id);
    const a = await connectClient(cluster.url, alice.token);
    // A refused event is logged with its socket; a REST call with its request id.
    const ack = await a.socket.timeout(5_000).emitWithAck("message:send", { conversationId: conversation.id, clientMsgId: "", content: "x" });
    expect(ack.ok).toBe(false);
    const delivered = nextEvent(a.socket, "message:persisted", 10_000);
    await a.socket.timeout(5_000).emitWithAck("message:send", { conversationId: conversation.id, clientMsgId: "ok", content: "hello" });
    await delivered;

    const services = [...cluster.gateways, cluster.api, cluster.worker];
    const lines = services.flatMap((service) =>
      readFileSync(service.process!.options.logFile, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => ({ service: service.name, line })),
    );
    const secrets = [TEST_JWT_SECRET, alice.token, bob.token, "correct horse battery"];
    for (const { service, line } of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(entry.node, `${service}: ${line}`).toEqual(expect.any(String));
      for (const secret of secrets) expect(line.includes(secret), `${service} logged a secret: ${line}`).toBe(false);
    }
    const gatewayLines = lines.filter((l) => l.service.startsWith("gateway")).map((l) => JSON.parse(l.line));
    expect(gatewayLines.some((entry) => entry.event === "message:send" && typeof entry.socketId === "string")).toBe(true);
    const apiLines = lines.filter((l) => l.service === "api").map((l) => JSON.parse(l.line));
    expect(apiLines.some((entry) => typeof entry.req?.id === "string" && entry.req.url === "/api/auth/register")).toBe(true);
  });
});
