/**
 * A realtime client on a {@link FakeSocket} and a fake REST API, for unit tests.
 */
import type { ConversationView, Message } from "@parley/protocol";
import { vi } from "vitest";

import { buildRealtimeClient, type ClientOptions } from "../client-core.js";
import type { ConversationsApi, HistoryPage } from "../conversations/history.js";
import { FakeSocket, USER } from "./fake-socket.js";

export { USER } from "./fake-socket.js";
/** Another member of the test conversations. */
export const OTHER = "cccccccccccccccccccccccc";
/** Test conversation ids. */
export const CONV = "dddddddddddddddddddddddd";
export const CONV2 = "eeeeeeeeeeeeeeeeeeeeeeee";

/** A message of `CONV` (or `over.conversationId`) with `seq`. */
export function msg(seq: number, over: Partial<Message> = {}): Message {
  return {
    id: (over.conversationId ?? CONV).slice(0, 16) + seq.toString(16).padStart(8, "0"),
    conversationId: CONV,
    seq,
    senderId: OTHER,
    clientMsgId: `c-${seq}`,
    content: `m${seq}`,
    type: "text",
    createdAt: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
    ...over,
  };
}

/** A conversation view of `id`. */
export function view(id: string, over: Partial<ConversationView> = {}): ConversationView {
  return {
    id,
    type: "direct",
    name: null,
    members: [USER, OTHER],
    admins: [USER, OTHER],
    createdBy: USER,
    createdAt: new Date(1_700_000_000_000).toISOString(),
    updatedAt: new Date(1_700_000_000_000).toISOString(),
    lastSeq: 0,
    lastMessage: null,
    unreadCount: 0,
    readPointers: { [USER]: 0, [OTHER]: 0 },
    deliveredPointers: { [USER]: 0, [OTHER]: 0 },
    ...over,
  };
}

/** A REST API whose answers the test sets. */
export class FakeApi implements ConversationsApi {
  views: ConversationView[] = [];
  /** Every message the "server" has, by conversation; history pages are cut from them. */
  messages = new Map<string, Message[]>();
  listCalls = 0;
  historyCalls: { id: string; before?: number; limit?: number }[] = [];

  list(): Promise<ConversationView[]> {
    this.listCalls++;
    return Promise.resolve(structuredClone(this.views));
  }

  history(id: string, query: { before?: number; limit?: number }): Promise<HistoryPage> {
    this.historyCalls.push({ id, ...query });
    const all = (this.messages.get(id) ?? []).filter((m) => query.before === undefined || m.seq < query.before);
    const page = all.slice(-(query.limit ?? 50));
    const first = page[0];
    return Promise.resolve({ messages: page, nextBefore: first && all[0] !== first ? first.seq : null });
  }
}

/** A client on fakes; `getToken` answers t1, t2, … */
export function setup(options: Partial<ClientOptions> = {}) {
  const socket = new FakeSocket();
  const api = new FakeApi();
  let n = 0;
  const getToken = vi.fn(() => Promise.resolve(`t${++n}`));
  const client = buildRealtimeClient({ url: "http://parley.test", getToken, createSocket: socket.factory, ...options }, api);
  return { socket, api, client, getToken };
}

/** Lets promises and due timers run (fake timers). */
export async function flush(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

/** Connects `client` through `socket`: `connect()`, the handshake, `session:ready`. */
export async function connected(s: ReturnType<typeof setup>): Promise<void> {
  const done = s.client.connect();
  await s.socket.open();
  await done;
  await flush();
}
