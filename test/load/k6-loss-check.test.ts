/**
 * The k6 receivers' loss check (load-tests/lib/member.js, seq-tracker.js) under vitest, with k6's
 * modules and the Socket.IO client replaced by fakes and fake timers: a seq counts as `missed` only when
 * a `sync` answer that had to cover it lacks it. Two gateways publish in the order their sends finish,
 * so a receiver can get seq N + 2 live before N + 1, also while a `sync` that read the conversation at
 * seq N is on its way: that is no loss.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Message, SyncResult } from "@parley/protocol";

import { ROOT } from "../../scripts/lib/paths.js";

/** k6/metrics' Counter, Rate and Trend: every value added, in order. */
class FakeMetric {
  readonly values: number[] = [];
  constructor(readonly name: string) {}
  add(value: number | boolean): void {
    this.values.push(Number(value));
  }
  get sum(): number {
    return this.values.reduce((a, b) => a + b, 0);
  }
}

interface PendingSync {
  request: { conversationId: string; afterSeq: number; limit: number; epoch?: string };
  answer(result: Partial<SyncResult> & { messages: Message[] }): void;
}

/** The member's Socket.IO client: the test fires server events and answers each `sync` by hand. */
class FakeClient {
  static last: FakeClient | undefined;
  readonly handlers = new Map<string, Array<(...args: unknown[]) => void>>();
  readonly syncs: PendingSync[] = [];
  connected = true;
  receivedAt = 0;
  constructor(
    readonly url: string,
    readonly options: Record<string, unknown>,
  ) {
    FakeClient.last = this;
  }
  on(event: string, fn: (...args: unknown[]) => void): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn]);
    return this;
  }
  fire(event: string, ...args: unknown[]): void {
    this.receivedAt = Date.now();
    for (const fn of this.handlers.get(event) ?? []) fn(...args);
  }
  emitWithAck(event: string, payload: PendingSync["request"]): Promise<unknown> {
    if (event !== "sync") return new Promise(() => {});
    return new Promise((resolve) => {
      this.syncs.push({
        request: payload,
        answer: (result) => resolve({ ok: true, hasMore: false, epoch: "e1", epochBase: 0, recovered: true, ...result }),
      });
    });
  }
  connect(): Promise<void> {
    return Promise.resolve();
  }
  drop(): void {}
  close(): void {}
}

vi.mock("k6/metrics", () => ({ Counter: FakeMetric, Rate: FakeMetric, Trend: FakeMetric }));
vi.mock("k6/http", () => ({ default: {} }));
vi.mock("k6/websockets", () => ({ WebSocket: class {} }));
vi.mock("k6/execution", () => ({ default: {} }));
vi.mock("../../load-tests/lib/socketio.js", () => ({ SocketIoClient: FakeClient }));

interface Member {
  fill(tracker: unknown): Promise<void>;
  finish(): Promise<void>;
  trackers: Map<string, unknown>;
}
interface K6Libs {
  member: { ChatMember: new (user: { id: string; token: string }, conversationIds: string[], options: Record<string, unknown>) => Member };
  metrics: { missed: FakeMetric; recovered: FakeMetric };
}

const CONVERSATION = "c1";
const GRACE_MS = 1_000;

async function load(): Promise<K6Libs> {
  const lib = (file: string) => import(pathToFileURL(join(ROOT, "load-tests/lib", file)).href);
  return { member: await lib("member.js"), metrics: await lib("metrics.js") };
}

function message(seq: number): Message {
  return {
    id: `m${seq}`,
    conversationId: CONVERSATION,
    senderId: "sender",
    clientMsgId: `c${seq}`,
    seq,
    content: `${Date.now()} c${seq}`,
    createdAt: new Date().toISOString(),
  } as Message;
}

describe("the k6 loss check", () => {
  let libs: K6Libs;
  let client: FakeClient;
  let member: Member;

  /** Lets promise callbacks run (sync answers) and moves the fake clock by `ms`. */
  const after = (ms: number) => vi.advanceTimersByTimeAsync(ms);
  const live = (seq: number) => client.fire("message:new", message(seq));
  const missed = () => libs.metrics.missed.sum;
  const recovered = () => libs.metrics.recovered.sum;
  /** The sync request sent next, which must start after `afterSeq`. */
  const nextSync = (afterSeq: number) => {
    const sync = client.syncs.shift();
    expect(sync, "a sync request").toBeDefined();
    expect(sync!.request.afterSeq).toBe(afterSeq);
    return sync!;
  };
  /** Answers the next sync request, which must start after `afterSeq`, and lets the member apply it. */
  const answerSync = async (afterSeq: number, result: Parameters<PendingSync["answer"]>[0]) => {
    nextSync(afterSeq).answer(result);
    await after(0);
  };
  /** Ends the run: the member's final sync, from `afterSeq`, finds nothing new. */
  const finish = async (afterSeq: number) => {
    const finished = member.finish();
    await after(0);
    await answerSync(afterSeq, { messages: [] });
    await finished;
  };

  /**
   * The race: the receiver holds 1..3 and reconnects; its `sync` from 3 reads the conversation at seq
   * 5; meanwhile 6 and 7 are sent on two gateways, and 7 arrives live before the answer (4, 5).
   */
  async function syncOvertakenBySeqTwoAhead(): Promise<void> {
    for (const seq of [1, 2, 3]) live(seq);
    client.fire("disconnect", "transport close");
    client.fire("session:ready", {});
    const sync = nextSync(3);
    live(7);
    sync.answer({ messages: [message(4), message(5)] });
    await after(0);
  }

  beforeEach(async () => {
    vi.useFakeTimers();
    vi.spyOn(console, "warn").mockImplementation(() => {});
    libs = await load();
    libs.metrics.missed.values.length = 0;
    libs.metrics.recovered.values.length = 0;
    member = new libs.member.ChatMember({ id: "u1", token: "t" }, [CONVERSATION], {
      socketUrl: "ws://127.0.0.1:1",
      connectTimeoutMs: 1_000,
      ackTimeoutMs: 1_000,
      gapGraceMs: GRACE_MS,
    });
    client = FakeClient.last!;
    client.fire("session:ready", {});
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("counts nothing when N + 1 arrives live within the grace period after the sync", async () => {
    await syncOvertakenBySeqTwoAhead();
    await after(GRACE_MS / 2);
    live(6);
    await after(GRACE_MS * 2);
    expect(client.syncs, "no sync needed: the hole closed").toHaveLength(0);
    expect(missed()).toBe(0);
    expect(recovered()).toBe(2);
    await finish(7);
    expect(missed()).toBe(0);
  });

  it("counts nothing when N + 1 never arrives live but the sync after the grace period returns it", async () => {
    await syncOvertakenBySeqTwoAhead();
    expect(client.syncs).toHaveLength(0);
    await after(GRACE_MS);
    await answerSync(5, { messages: [message(6), message(7)] });
    expect(missed()).toBe(0);
    expect(recovered()).toBe(3);
  });

  it("counts a seq once when the sync issued after its gap was seen lacks it", async () => {
    await syncOvertakenBySeqTwoAhead();
    await after(GRACE_MS);
    await answerSync(5, { messages: [message(7)], recovered: false });
    expect(missed()).toBe(1);
    // Arriving afterwards does not undo the count, and the final sync does not count it again.
    live(6);
    await finish(7);
    expect(missed()).toBe(1);
  });

  it("counts a hole in live messages that the sync after the grace period cannot fill", async () => {
    for (const seq of [1, 2, 4]) live(seq);
    await after(GRACE_MS - 1);
    expect(client.syncs).toHaveLength(0);
    await after(1);
    await answerSync(2, { messages: [message(4)], recovered: false });
    expect(missed()).toBe(1);
  });

  it("re-checks a hole that opened while a sync was running, after its own grace period", async () => {
    for (const seq of [1, 2, 4]) live(seq);
    await after(GRACE_MS);
    const sync = nextSync(2);
    // The sync reads the conversation at 4; 6 is sent afterwards and overtakes 5.
    live(6);
    sync.answer({ messages: [message(3), message(4)] });
    await after(GRACE_MS - 1);
    expect(client.syncs).toHaveLength(0);
    await after(1);
    await answerSync(4, { messages: [message(5), message(6)] });
    expect(missed()).toBe(0);
    expect(recovered()).toBe(2);
  });
});
