/**
 * The conversation list: loaded over REST after every `session:ready`, then kept live from events
 * (new conversations, membership changes, new messages, pointers), most recent activity first.
 */
import type { Conversation, ConversationView, Message, PointerMoved } from "@parley/protocol";

import { toParleyError } from "../errors.js";
import { backoffDelay } from "../lib/backoff.js";
import type { Runtime } from "../lib/runtime.js";
import { createStore, type Store } from "../store.js";
import type { ConversationsApi } from "../conversations/history.js";
import { newerOf } from "../conversations/timeline.js";

/**
 * The conversation list as a store, and how to reload it. In each view, `lastSeq` is the highest seq
 * known (the server's counts include messages not stored yet), and `unreadCount` is
 * `lastSeq - readPointers[me]`, never negative: both stay current between reloads.
 */
export interface ConversationList extends Store<readonly ConversationView[]> {
  /** Reloads the list from the server (done after every `session:ready`). */
  refresh(): Promise<void>;
}

/** What the list needs. */
export interface ConversationListDeps extends Runtime {
  api: ConversationsApi;
  selfId: () => string | undefined;
  /** The list was (re)loaded from the server. */
  onLoaded: (views: readonly ConversationView[]) => void;
}

type Views = readonly ConversationView[];

/** The live conversation list. */
export class ConversationListState implements ConversationList {
  private readonly store = createStore<Views>([]);
  private loading: Promise<void> | undefined;
  private cancelRetry: (() => void) | undefined;
  private attempt = 0;

  constructor(private readonly deps: ConversationListDeps) {}

  readonly get = (): Views => this.store.get();
  readonly subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener);

  readonly refresh = (): Promise<void> => {
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  };

  /** A session is ready: reload, retrying with backoff while the session lasts. */
  resume(): void {
    this.cancelRetry?.();
    this.refresh().then(
      () => (this.attempt = 0),
      (err: unknown) => {
        const error = toParleyError(err);
        if (!error.retryable || !this.deps.isReady()) return;
        const wait = error.retryAfterMs ?? backoffDelay(this.attempt++, this.deps.backoff, this.deps.random);
        this.deps.logger.debug(`parley: conversation list failed, retrying in ${wait} ms`, error);
        this.cancelRetry = this.deps.timers.set(() => this.resume(), wait);
      },
    );
  }

  /** `conversation:created`. */
  created(conversation: Conversation): void {
    if (this.find(conversation.id)) return this.updated(conversation);
    const zero = Object.fromEntries(conversation.members.map((m) => [m, 0]));
    const view: ConversationView = { ...conversation, unreadCount: 0, readPointers: zero, deliveredPointers: { ...zero } };
    this.store.set([withUnread(view, this.deps.selfId()), ...this.store.get()]);
  }

  /** `conversation:updated`: new fields, or gone when this user is no longer a member. */
  updated(conversation: Conversation): void {
    const self = this.deps.selfId();
    if (self !== undefined && !conversation.members.includes(self)) {
      this.store.set(this.store.get().filter((c) => c.id !== conversation.id));
      return;
    }
    if (!this.find(conversation.id)) return this.created(conversation);
    this.change(conversation.id, (c) => ({ ...c, ...conversation, lastMessage: latest(c.lastMessage, conversation.lastMessage), lastSeq: Math.max(c.lastSeq, conversation.lastSeq) }));
  }

  /** A new message (`message:new`, or the ack of one sent here): last message, counts, to the top. */
  message(message: Message): void {
    const view = this.find(message.conversationId);
    if (!view) return;
    const self = this.deps.selfId();
    let next: ConversationView = { ...view, lastMessage: latest(view.lastMessage, message), lastSeq: Math.max(view.lastSeq, message.seq) };
    // Sending marks read: the sender's pointers move to their message.
    if (message.senderId === self) next = withPointer(withPointer(next, "readPointers", self, message.seq), "deliveredPointers", self, message.seq);
    next = withUnread(next, self);
    this.store.set([next, ...this.store.get().filter((c) => c.id !== view.id)]);
  }

  /** A new state of a message (edit, delete, reaction): the last message follows. */
  messageChanged(conversationId: string, id: string, change: (m: Message) => Message): void {
    this.change(conversationId, (c) => {
      if (c.lastMessage?.id !== id) return c;
      const next = change(c.lastMessage);
      return next === c.lastMessage ? c : { ...c, lastMessage: next };
    });
  }

  /** A pointer moved (`conversation:delivered` / `conversation:read`, or the ack of one sent here). */
  pointer(kind: "delivered" | "read", { conversationId, userId, seq }: Pick<PointerMoved, "conversationId" | "userId" | "seq">): void {
    this.change(conversationId, (c) => {
      let next = withPointer(c, "deliveredPointers", userId, seq);
      if (kind === "read") next = withPointer(next, "readPointers", userId, seq);
      return userId === this.deps.selfId() ? withUnread(next, userId) : next;
    });
  }

  /** Cancels the retry timer. */
  dispose(): void {
    this.cancelRetry?.();
  }

  private async load(): Promise<void> {
    const fresh = await this.deps.api.list();
    const held = new Map(this.store.get().map((c) => [c.id, c]));
    const self = this.deps.selfId();
    const views = fresh.map((view) => {
      const read = self === undefined ? 0 : (view.readPointers[self] ?? 0);
      // The server counts every numbered message; lastSeq counts only stored ones: take the larger.
      let next: ConversationView = { ...view, lastSeq: Math.max(view.lastSeq, read + view.unreadCount) };
      const old = held.get(view.id);
      if (old) next = mergeLive(next, old);
      return self === undefined ? next : withUnread(next, self);
    });
    this.store.set(views);
    this.deps.onLoaded(views);
  }

  private find(id: string): ConversationView | undefined {
    return this.store.get().find((c) => c.id === id);
  }

  private change(id: string, update: (c: ConversationView) => ConversationView): void {
    const views = this.store.get();
    const i = views.findIndex((c) => c.id === id);
    if (i < 0) return;
    const next = update(views[i] as ConversationView);
    if (next === views[i]) return;
    const copy = views.slice();
    copy[i] = next;
    this.store.set(copy);
  }
}

/** What live events taught since the request left: newer last message, pointers only forward. */
function mergeLive(fresh: ConversationView, held: ConversationView): ConversationView {
  let next: ConversationView = { ...fresh, lastMessage: latest(fresh.lastMessage, held.lastMessage), lastSeq: Math.max(fresh.lastSeq, held.lastSeq) };
  for (const key of ["readPointers", "deliveredPointers"] as const) {
    for (const [user, seq] of Object.entries(held[key])) if (user in fresh[key]) next = withPointer(next, key, user, seq);
  }
  return next;
}

/** The later of two last messages: the higher seq, or the newer state of the same one. */
function latest(a: Message | null, b: Message | null): Message | null {
  if (!a || !b) return a ?? b;
  if (a.seq !== b.seq) return a.seq > b.seq ? a : b;
  return a.id === b.id ? newerOf(a, b) : b;
}

function withPointer(c: ConversationView, key: "readPointers" | "deliveredPointers", user: string | undefined, seq: number): ConversationView {
  if (user === undefined || (c[key][user] ?? 0) >= seq) return c;
  return { ...c, [key]: { ...c[key], [user]: seq } };
}

function withUnread(c: ConversationView, self: string | undefined): ConversationView {
  if (self === undefined) return c;
  const unreadCount = Math.max(0, c.lastSeq - (c.readPointers[self] ?? 0));
  return unreadCount === c.unreadCount ? c : { ...c, unreadCount };
}
