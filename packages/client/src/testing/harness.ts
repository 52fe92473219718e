/**
 * A realtime client on a {@link FakeSocket} and a fake REST API, for unit tests.
 */
import type { AttachmentCreated, AttachmentLink, ConversationView, CreateAttachmentBody, IceServerList, Message, WireError } from "@parley/protocol";
import { vi } from "vitest";

import type { AttachmentVariant } from "../attachments/attachments-api.js";
import { kindOf } from "../attachments/local-attachment.js";
import { buildRealtimeClient, type ClientOptions, type CoreApi } from "../client-core.js";
import type { HistoryPage } from "../conversations/history.js";
import { ParleyError } from "../errors.js";
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

/** Attachments created by every FakeApi of the process: ids stay unique across the tests of a file. */
let attachmentCount = 0;

/** A REST API whose answers the test sets. */
export class FakeApi implements CoreApi {
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

  /** Where presigned uploads and downloads point (a test's object store). */
  storeUrl = "http://127.0.0.1:1";
  /** How long presigned uploads and downloads stay valid. */
  uploadTtlMs = 600_000;
  linkTtlMs = 300_000;
  /** Every attachment created, in order. */
  created: ({ conversationId: string; id: string } & CreateAttachmentBody)[] = [];
  /** Errors the next `createAttachment` calls answer with, in order. */
  createErrors: WireError[] = [];
  linkCalls: { id: string; variant: AttachmentVariant }[] = [];
  /** Answers of `attachmentLink` the test holds back (with `holdLinks`): it answers them itself. */
  heldLinks: { id: string; resolve: () => void; reject: (err: unknown) => void }[] = [];
  holdLinks = false;

  createAttachment(conversationId: string, body: CreateAttachmentBody): Promise<AttachmentCreated> {
    const error = this.createErrors.shift();
    if (error) return Promise.reject(new ParleyError(error));
    const id = `a${(++attachmentCount).toString(16).padStart(23, "0")}`;
    this.created.push({ conversationId, id, ...body });
    const expiresAt = new Date(Date.now() + this.uploadTtlMs).toISOString();
    return Promise.resolve({
      attachment: { id, name: body.name, size: body.size, contentType: body.contentType, kind: kindOf(body.contentType) },
      upload: { url: `${this.storeUrl}/attachments/${id}?X-Amz-Signature=fake`, method: "PUT", headers: { "Content-Type": body.contentType }, expiresAt },
    });
  }

  /** What `iceServers` answers, and how many times it was asked. */
  iceList: IceServerList = { iceServers: [] };
  iceCalls = 0;
  /** Errors the next `iceServers` calls answer with, in order. */
  iceErrors: WireError[] = [];

  iceServers(): Promise<IceServerList> {
    this.iceCalls++;
    const error = this.iceErrors.shift();
    if (error) return Promise.reject(new ParleyError(error));
    return Promise.resolve(structuredClone(this.iceList));
  }

  attachmentLink(id: string, variant: AttachmentVariant): Promise<AttachmentLink> {
    this.linkCalls.push({ id, variant });
    const n = this.linkCalls.length;
    const link = { url: `${this.storeUrl}/attachments/${id}/${variant}?n=${n}`, expiresAt: new Date(Date.now() + this.linkTtlMs).toISOString() };
    if (!this.holdLinks) return Promise.resolve(link);
    return new Promise((resolve, reject) => this.heldLinks.push({ id, resolve: () => resolve(link), reject }));
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
