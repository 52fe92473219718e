/**
 * `npm run bench` end to end, at a toy scale: the three targets started as the bench starts them, the
 * k6 `chat` workload against each at the full and the half load, a capacity run, and the reports.
 * This checks that the benchmark runs from a clean clone and counts right, not how fast anything is:
 * the machine is shared with the other test files, so no figure of speed is asserted. Then targets (b)
 * and (c) once more, started as the bench starts them, watched from outside at each ack: (b) stores
 * and queues nothing, (c) has stored every message before it answers the send.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

import { beforeAll, describe, expect, inject, it } from "vitest";

import type { Message } from "@parley/protocol";
import { createPersistQueue } from "@parley/shared/queues";

import type { BenchReport } from "../../scripts/bench/report.js";
import type { RunResult } from "../../scripts/bench/run.js";
import { startTarget } from "../../scripts/bench/targets.js";
import { ROOT } from "../../scripts/lib/paths.js";
import { ApiClient } from "../helpers/api-client.js";
import { closeAllClients, connectClient } from "../helpers/clients.js";
import { testDir } from "../helpers/env.js";
import { nextEvent } from "../helpers/events.js";
import { openModels } from "../helpers/in-process-gateway.js";

const run = promisify(execFile);

/** 2 groups of 3 members, each member sending 1 msg/s for 5 s: 6 sockets, 6 sends/s, 12 deliveries/s. */
const CONVERSATIONS = 2;
const MEMBERS = 3;
const CAPACITY_SOCKETS = 12;

let report: BenchReport;
let markdown: string;
let output: string;

beforeAll(async () => {
  const reportDir = testDir("bench-report");
  // prettier-ignore
  const args = [
    "--import", "tsx", "scripts/bench.ts",
    "--conversations", String(CONVERSATIONS), "--members", String(MEMBERS), "--rate", "1",
    "--duration", "5s", "--ramp", "2s",
    // The half load given, so (b) is not stepped up to its maximum (minutes of load).
    "--half-rate", "0.5",
    "--persistence", "0",
    "--capacity", String(CAPACITY_SOCKETS), "--capacity-ramp", "2s", "--capacity-hold", "15s",
    "--label", "smoke", "--report-dir", reportDir,
  ];
  const { stdout, stderr } = await run(process.execPath, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  output = `${stdout}\n${stderr}`;
  const files = readdirSync(reportDir);
  const json = files.find((f) => f.endsWith(".json"));
  const md = files.find((f) => f.endsWith(".md"));
  if (!json || !md) throw new Error(`no report in ${reportDir}:\n${output}`);
  report = JSON.parse(readFileSync(join(reportDir, json), "utf8")) as BenchReport;
  markdown = readFileSync(join(reportDir, md), "utf8");
}, 600_000);

/** The run of `role`, which must have completed. */
function runOf(role: keyof BenchReport["runs"]): RunResult {
  const result = report.runs[role];
  if (!result) throw new Error(`no ${role} run; errors: ${report.errors.join("; ")}\n${output}`);
  return result;
}

describe("npm run bench at a toy scale", () => {
  it("completes every run it was asked for, without errors", () => {
    expect(report.errors, output).toEqual([]);
    expect(Object.keys(report.runs).sort()).toEqual(["a", "aHalf", "b", "bHalf", "c"]);
    expect(report.halfLoad?.rate).toBe(0.5);
    expect(report.capacity).toBeDefined();
  });

  it.each(["a", "b", "c", "aHalf", "bHalf"] as const)("run %s: every message sent reaches every other member, none missed", (role) => {
    const result = runOf(role);
    const { sent, delivered, missed, sendErrorRate } = result.k6.summary;
    expect(sent).toBeGreaterThan(0);
    expect(missed).toBe(0);
    expect(sendErrorRate).toBe(0);
    // Each message reaches the other members of its group.
    expect(delivered).toBe(sent * (MEMBERS - 1));
    expect(result.sockets).toBeCloseTo(CONVERSATIONS * MEMBERS, 0);
    expect(result.delivery?.p50).toBeGreaterThan(0);
  });

  it("samples every process of each target", () => {
    const names = (role: "a" | "b" | "c") => Object.keys(runOf(role).usage.processes).sort();
    const cluster = ["api", "ferretdb", "gateway-0", "gateway-1", "k6", "nginx", "redis", "worker"];
    expect(names("a")).toEqual(cluster);
    expect(names("c")).toEqual(cluster);
    expect(names("b")).toEqual(["api", "ferretdb", "gateway-0", "k6", "redis"]);
    for (const role of ["a", "b", "c"] as const) {
      for (const [name, usage] of Object.entries(runOf(role).usage.processes)) {
        expect(usage.cpuPercent, `${role} ${name}`).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it("persists through the worker in (a) only, and reads the gateways' heap", () => {
    expect(runOf("a").storedPerSecond).toBeGreaterThan(0);
    expect(runOf("b").storedPerSecond).toBeUndefined();
    for (const role of ["a", "b", "c"] as const) expect(runOf(role).heapPerSocketBytes).toBeGreaterThan(0);
  });

  it("holds the capacity run's sockets across both gateways", () => {
    const capacity = report.capacity!;
    expect(capacity.held).toBe(CAPACITY_SOCKETS);
    expect(capacity.connectErrors).toBe(0);
    expect(capacity.perGateway).toHaveLength(2);
    expect(capacity.perGateway.every((n) => n > 0)).toBe(true);
    expect(capacity.heapBytes).toBeGreaterThan(capacity.idleHeapBytes);
  });

  it("evaluates every goal it has the runs for, and writes them into the Markdown report", () => {
    const evaluated = report.goals.filter((g) => g.pass !== undefined).map((g) => g.goal);
    // All but the 10-minute persistence goal, which needs the persistence run.
    expect(evaluated).toHaveLength(report.goals.length - 1);
    expect(markdown).toContain("## Goals");
    for (const goal of report.goals) expect(markdown).toContain(goal.goal);
  });
});

describe("npm run bench's arguments", () => {
  it("refuses a capacity hold too short to read the heap while the sockets are held, before any run", async () => {
    const args = ["--import", "tsx", "scripts/bench.ts", "--capacity", "10", "--capacity-hold", "5s", "--report-dir", testDir("bench-refused")];
    const refused = run(process.execPath, args, { cwd: ROOT });
    await expect(refused).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("--capacity-hold: the sockets must be held at least 15 s, not 5 s") });
  });
});

/** What one message of {@link probe} looked like from outside. */
interface ProbedMessage {
  /** The message reached the other member. */
  delivered: boolean;
  /** MongoDB held the message as soon as the ack arrived. */
  storedAtAck: boolean;
  /** The persist queue held a job for the message as soon as the ack arrived. */
  queuedAtAck: boolean;
}

const PROBE_MESSAGES = 5;

/**
 * Starts target `id` as the bench does (on the test run's MongoDB), has one member of a new group send
 * {@link PROBE_MESSAGES} messages to the other, one at a time, and looks at MongoDB and the persist queue
 * the moment each ack arrives. With `pauseWorker`, the target's worker is stopped (SIGSTOP) for the sends.
 */
async function probe(id: "b" | "c", { pauseWorker = false } = {}): Promise<ProbedMessage[]> {
  const target = await startTarget(id, { dir: testDir(`bench-probe-${id}`), mongoUrl: inject("mongoUri") });
  const { connection, models } = await openModels(target.mongoUrl);
  const queue = createPersistQueue({ url: target.redisUrl }, "{parley}");
  try {
    const api = new ApiClient(target.apiUrl);
    const [alice, bob] = await Promise.all([api.register("alice"), api.register("bob")]);
    const group = await api.group(alice.token, "probe", [bob.id]);
    const [a, b] = await Promise.all([connectClient(target.socketUrl, alice.token), connectClient(target.socketUrl, bob.token)]);
    const worker = pauseWorker ? target.processes.find((p) => p.name === "worker") : undefined;
    if (pauseWorker && !worker) throw new Error(`(${id}) runs no worker`);
    if (worker) process.kill(worker.pid, "SIGSTOP");
    const probed: ProbedMessage[] = [];
    try {
      for (let i = 0; i < PROBE_MESSAGES; i++) {
        const atBob = nextEvent<Message>(b.socket, "message:new");
        const ack = await a.socket.timeout(5_000).emitWithAck("message:send", { conversationId: group.id, clientMsgId: `probe-${i}`, content: `probe ${i}` });
        if (!ack.ok) throw new Error(`send failed: ${JSON.stringify(ack)}`);
        const [stored, job] = await Promise.all([models.Message.exists({ _id: ack.message.id }), queue.getJob(ack.message.id)]);
        probed.push({ storedAtAck: stored !== null, queuedAtAck: job !== undefined, delivered: (await atBob).id === ack.message.id });
      }
    } finally {
      if (worker) process.kill(worker.pid, "SIGCONT");
    }
    return probed;
  } finally {
    closeAllClients();
    await queue.close();
    await connection.close();
    await target.stop();
  }
}

/** {@link PROBE_MESSAGES} times `message`. */
function every(message: ProbedMessage): ProbedMessage[] {
  return Array.from({ length: PROBE_MESSAGES }, () => message);
}

describe("the bench gateway's variants, from outside", () => {
  it("(b) delivers and acknowledges every message, and neither stores nor queues any", async () => {
    expect(await probe("b")).toEqual(every({ delivered: true, storedAtAck: false, queuedAtAck: false }));
  }, 180_000);

  it("(c) has stored every message in MongoDB when its ack arrives, with the worker stopped, and queued none", async () => {
    // Only the gateway can have stored what MongoDB holds.
    expect(await probe("c", { pauseWorker: true })).toEqual(every({ delivered: true, storedAtAck: true, queuedAtAck: false }));
  }, 180_000);
});
