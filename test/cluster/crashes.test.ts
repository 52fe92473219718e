/**
 * Processes that die, on a real cluster. Supervision, as `npm start` runs it: a gateway, the API or the
 * worker that dies by itself (SIGKILL from outside: a crash, the OOM killer) is started again on its
 * port after a backoff that doubles while it keeps dying; one stopped or killed on purpose is not. And
 * the jobs a dead worker held go to another worker within seconds, not BullMQ's default minute.
 */
import { EventEmitter } from "node:events";

import { Queue } from "bullmq";
import { describe, expect, it } from "vitest";

import { DEFAULT_RESTART_POLICY, type Service, type SupervisionEvent } from "../../scripts/lib/cluster.js";
import { isOk } from "../../scripts/lib/process.js";
import { useCluster } from "../helpers/cluster.js";
import { eventually, nextEvent } from "../helpers/events.js";

const events: SupervisionEvent[] = [];
const reports = new EventEmitter();

const fixture = useCluster("supervision", {
  gateways: 1,
  objectStore: false,
  supervise: (event) => {
    events.push(event);
    reports.emit(`${event.type}:${event.service}`, event);
  },
});

/** Kills `service`'s process as a crash would (from outside, without telling the cluster). */
function crash(service: Service): number {
  const pid = service.process?.pid;
  if (pid === undefined) throw new Error(`${service.name} has no process`);
  process.kill(pid, "SIGKILL");
  return pid;
}

describe("a supervised cluster", () => {
  it("starts a gateway, the API and the worker again after each dies by itself, ready on the same port", async () => {
    const { gateways, api, worker } = fixture.cluster;
    for (const service of [gateways[0]!, api, worker]) {
      const restarted = nextEvent<Extract<SupervisionEvent, { type: "restarted" }>>(reports, `restarted:${service.name}`, 20_000);
      const exited = nextEvent<Extract<SupervisionEvent, { type: "exited" }>>(reports, `exited:${service.name}`, 5_000);
      const pid = crash(service);
      expect(await exited).toMatchObject({ signal: "SIGKILL", restartInMs: DEFAULT_RESTART_POLICY.initialDelayMs });
      const back = await restarted;
      expect(back.pid).toBeDefined();
      expect(back.pid).not.toBe(pid);
      expect(await isOk(`${service.url}/readyz`)).toBe(true);
    }
    // Through nginx too: the gateway is back in its upstream.
    expect(await isOk(`${fixture.cluster.url}/readyz`)).toBe(true);
  }, 60_000);

  it("waits twice as long before each restart of a service that keeps dying", async () => {
    const gateway = fixture.cluster.gateways[0]!;
    const delays: number[] = [];
    for (let i = 0; i < 2; i++) {
      const restarted = nextEvent(reports, `restarted:${gateway.name}`, 20_000);
      const exited = nextEvent<Extract<SupervisionEvent, { type: "exited" }>>(reports, `exited:${gateway.name}`, 5_000);
      crash(gateway);
      delays.push((await exited).restartInMs);
      await restarted;
    }
    // The first test's crash was less than a minute ago: this one is the second, then the third.
    expect(delays).toEqual([2 * DEFAULT_RESTART_POLICY.initialDelayMs, 4 * DEFAULT_RESTART_POLICY.initialDelayMs]);
  }, 60_000);

  it("leaves alone a service stopped or killed on purpose", async () => {
    const { worker } = fixture.cluster;
    const before = events.length;
    await worker.kill();
    // A report would have come with the exit, which kill() awaited.
    expect(events.slice(before)).toEqual([]);
    expect(worker.running).toBe(false);
    await worker.start();
    await worker.stop();
    expect(events.slice(before)).toEqual([]);
    await worker.start();
  }, 60_000);
});

describe("a worker that dies", () => {
  it("loses the jobs it held to another worker within seconds", async () => {
    const { cluster, api } = fixture;
    const alice = await api.register("alice");
    const bob = await api.register("bob");
    const { id: conversationId } = await api.direct(alice.token, bob.id);
    const queue = new Queue("persist", { connection: { url: cluster.redisUrl }, prefix: "{parley}" });
    // A worker that takes the job and sits on it: its batch waits a minute for company.
    const holder = await cluster.worker.sibling("worker-holder", { PERSIST_BATCH_WAIT_MS: "60000" });
    try {
      await cluster.worker.stop();
      await holder.start();
      const sent = await api.request<{ message: { id: string } }>("POST", `/api/conversations/${conversationId}/messages`, {
        token: alice.token,
        body: { clientMsgId: "held-by-a-dead-worker", content: "still stored" },
      });
      expect(sent.status).toBe(201);
      const messageId = sent.body.message.id;
      await eventually(async () => (await queue.getJobCounts("active")).active === 1, 10_000, "the job active in the holder");

      // The holder dies with the job; the cluster's worker is back at once. Default BullMQ locks (30 s,
      // checked every 30 s) would keep the job from it for 15 to 60 s.
      crash(holder);
      await cluster.worker.start();
      const models = await fixture.models();
      await eventually(async () => (await models.Message.countDocuments({ _id: messageId })) === 1, 12_000, "the message stored by the other worker");
      // Completed (and so removed), not failed for having stalled.
      await eventually(async () => (await queue.getJobCounts("active")).active === 0, 5_000, "no job active");
      expect(await queue.getJobCounts("failed", "wait")).toEqual({ failed: 0, wait: 0 });
    } finally {
      await holder.kill();
      await queue.close();
      if (!cluster.worker.running) await cluster.worker.start();
    }
  }, 60_000);
});
