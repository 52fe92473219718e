/**
 * One open conversation: its confirmed messages and pending tail, recovery after reconnects and gaps,
 * receipts, and typing. Shared by every handle on the same conversation id.
 */
import type { ConversationView, Message, MessagePersisted, MessageReaction, SyncResult } from "@parley/protocol";

import { toParleyError, type ParleyError } from "../errors.js";
import { backoffDelay } from "../lib/backoff.js";
import { Emitter } from "../lib/emitter.js";
import type { Runtime } from "../lib/runtime.js";
import type { ConversationListState } from "../conversation-list/conversation-list.js";
import type { LocalMessage } from "../outbox/local-message.js";
import type { Outbox } from "../outbox/outbox.js";
import type { ReceiptSender } from "../receipts/receipt-sender.js";
import { createStore } from "../store.js";
import type { Requester } from "../transport/requests.js";
import type { ClientSocket } from "../transport/socket.js";
import { Typing } from "../typing/typing.js";
import type { ConversationsApi } from "./history.js";
import { recover, SYNC_PAGE_LIMIT, type Discontinuity } from "./sync.js";
import { asDeleted, contiguousLast, dropAbove, maxSeq, mergeMessages, updateMessage, withReaction, type TimelineMessage } from "./timeline.js";

/** How long a gap may stay open before a sync fills it (messages can arrive out of order). */
export const GAP_GRACE_MS = 400;
/** Messages the first history page of a conversation loads. */
export const INITIAL_PAGE = 50;

/** The messages of a conversation as `conversation.messages` shows them. */
export interface MessagesSnapshot {
  /** Confirmed messages, in seq order, each seq once. */
  items: readonly TimelineMessage[];
  /** This client's messages not acknowledged yet (and failed ones), in send order. */
  pending: readonly LocalMessage[];
  /** The highest seq held with nothing missing below it. */
  last: number;
  /** The epoch of the last sync. */
  epoch?: string;
  /** Older messages exist: `loadOlder()` fetches them. */
  hasOlder: boolean;
  /** The first page has loaded. */
  loaded: boolean;
}

/** Delivery and read state of a conversation, from the conversation list. */
export interface ReceiptsSnapshot {
  /** Member id → highest seq read. */
  read: Readonly<Record<string, number>>;
  /** Member id → highest seq delivered to one of their devices. */
  delivered: Readonly<Record<string, number>>;
  /** Messages after this user's read pointer. */
  unread: number;
}

/** What a conversation needs. */
export interface ConversationDeps extends Runtime {
  id: string;
  selfId: () => string | undefined;
  request: Requester;
  volatile: ClientSocket["volatile"];
  api: ConversationsApi;
  outbox: Outbox;
  receipts: ReceiptSender;
  list: ConversationListState;
}

const NO_RECEIPTS: ReceiptsSnapshot = { read: {}, delivered: {}, unread: 0 };

/** Most `message:persisted` kept for messages not held yet (acks still on their way). */
const MAX_PERSISTED_EARLY = 1_000;

/** The shared state of one open conversation. */
export class ConversationState {
  readonly messages = createStore<MessagesSnapshot>({ items: [], pending: [], last: 0, hasOlder: false, loaded: false });
  readonly receipts = createStore<ReceiptsSnapshot>(NO_RECEIPTS);
  readonly typing: Typing;
  readonly discontinuities = new Emitter<{ [e: string]: (d: Discontinuity) => void; discontinuity: (d: Discontinuity) => void }>();
  private cursor: number | undefined;
  private running: Promise<{ recovered: boolean }> | undefined;
  private queued: Promise<{ recovered: boolean }> | undefined;
  private loadingOlder: Promise<boolean> | undefined;
  private cancelRetry: (() => void) | undefined;
  private cancelGap: (() => void) | undefined;
  private attempt = 0;
  private missing = false;
  private readonly unsubscribe: (() => void)[] = [];
  private destroyed = false;
  /** Ids of messages that were persisted before this client held them, oldest first. */
  private readonly persistedEarly = new Set<string>();

  constructor(private readonly deps: ConversationDeps) {
    this.typing = new Typing({ conversationId: deps.id, timers: deps.timers, selfId: deps.selfId, isReady: deps.isReady, volatile: deps.volatile });
    this.unsubscribe.push(deps.outbox.messages.subscribe(() => this.refreshPending()), deps.list.subscribe(() => this.refreshReceipts()));
    this.refreshPending();
    this.refreshReceipts();
    if (deps.isReady()) this.autoSync();
  }

  get id(): string {
    return this.deps.id;
  }

  // --- recovery ---

  /** Brings the timeline up to date with the server; single-flight (a call during a run gets the next run). */
  sync(): Promise<{ recovered: boolean }> {
    if (!this.running) {
      this.running = this.run().finally(() => (this.running = undefined));
      return this.running;
    }
    this.queued ??= this.running.then(
      () => ((this.queued = undefined), this.sync()),
      () => ((this.queued = undefined), this.sync()),
    );
    return this.queued;
  }

  /** A sync whose failure is handled here (retried with backoff while connected). */
  autoSync(): void {
    this.sync().catch((err: unknown) => this.deps.logger.debug(`parley: sync of ${this.deps.id} failed`, err));
  }

  private async run(): Promise<{ recovered: boolean }> {
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    try {
      if (!this.messages.get().loaded) await this.loadFirstPage();
      const result = await recover(this.timeline(), (p) => this.deps.request("sync", p) as Promise<SyncResult>, (d) => this.raise(d));
      if (result.recovered) {
        this.attempt = 0;
        this.missing = false;
      } else {
        if (!this.missing) this.raise({ reason: "missing" });
        this.missing = true;
        this.retryLater();
      }
      this.sendDelivered();
      return result;
    } catch (err) {
      const error = toParleyError(err);
      if (error.retryable) this.retryLater(error);
      throw error;
    }
  }

  private retryLater(error?: ParleyError): void {
    if (this.destroyed || !this.deps.isReady()) return; // the next session:ready syncs again
    const wait = error?.retryAfterMs ?? backoffDelay(this.attempt++, this.deps.backoff, this.deps.random);
    this.cancelRetry = this.deps.timers.set(() => this.autoSync(), wait);
  }

  private async loadFirstPage(): Promise<void> {
    const page = await this.deps.api.history(this.deps.id, { limit: INITIAL_PAGE });
    const s = this.messages.get();
    const items = mergeMessages(s.items, page.messages);
    this.cursor = page.nextBefore ?? undefined;
    // The page is the window: everything from its first seq to its last is what the server has.
    const last = contiguousLast(items, Math.max(s.last, page.messages.at(-1)?.seq ?? 0));
    this.set({ items, last, hasOlder: page.nextBefore !== null, loaded: true });
  }

  private timeline() {
    return {
      conversationId: this.deps.id,
      last: () => this.messages.get().last,
      epoch: () => this.messages.get().epoch,
      dropAbove: (base: number) => {
        const s = this.messages.get();
        this.set({ items: dropAbove(s.items, base), last: Math.min(s.last, base) });
      },
      apply: (messages: readonly Message[], epoch: string) => {
        const s = this.messages.get();
        const items = mergeMessages(s.items, messages);
        this.set({ items, epoch, last: contiguousLast(items, s.last) });
      },
      unconfirmed: () => {
        const { items, last } = this.messages.get();
        // Within one sync page of `last`: older ones are read again only through history.
        const sent = items.find((m) => m.state === "sent" && m.seq <= last && m.seq > last - SYNC_PAGE_LIMIT);
        return sent?.seq;
      },
    };
  }

  private raise(d: Discontinuity): void {
    this.deps.logger.debug(`parley: conversation ${this.deps.id} discontinuity (${d.reason})`, d);
    this.discontinuities.emit("discontinuity", d);
  }

  /** A gap is open (messages above `last`): sync it unless it fills itself within the grace period. */
  private watchGap(): void {
    const s = this.messages.get();
    if (!s.loaded || maxSeq(s.items) <= s.last || this.cancelGap) return;
    this.cancelGap = this.deps.timers.set(() => {
      this.cancelGap = undefined;
      const now = this.messages.get();
      if (maxSeq(now.items) > now.last) this.autoSync();
    }, GAP_GRACE_MS);
  }

  // --- events ---

  /** `message:new`, and messages this client sent (acknowledged). */
  add(message: TimelineMessage): void {
    const s = this.messages.get();
    if (this.persistedEarly.delete(message.id)) message = { ...message, state: "persisted" };
    const items = mergeMessages(s.items, [message]);
    if (items === s.items) return;
    // Not loaded yet: the first page sets the window; the message stays until then.
    const last = s.loaded ? contiguousLast(items, s.last) : s.last;
    const pending = message.clientMsgId ? s.pending.filter((p) => p.clientMsgId !== message.clientMsgId) : s.pending;
    this.set({ items, last, pending });
    if (message.senderId !== this.deps.selfId()) this.sendDelivered();
    this.watchGap();
  }

  /** A message this client sent was acknowledged. */
  sent(message: Message): void {
    this.add({ ...message, state: "sent" });
  }

  /** `message:persisted`. */
  persisted(p: MessagePersisted): void {
    if (this.messages.get().items.some((m) => m.id === p.id)) {
      this.change(p.id, (m) => (m.state === "persisted" ? m : { ...m, state: "persisted" }));
      return;
    }
    // The worker can be faster than the sender's ack (they travel different paths): remember it.
    this.persistedEarly.add(p.id);
    if (this.persistedEarly.size > MAX_PERSISTED_EARLY) {
      const oldest = this.persistedEarly.values().next().value;
      if (oldest !== undefined) this.persistedEarly.delete(oldest);
    }
  }

  /** A full new state (`message:updated`, an ack of edit, delete or react). */
  updated(message: Message): void {
    const s = this.messages.get();
    if (s.items.some((m) => m.id === message.id)) this.set({ items: mergeMessages(s.items, [message]) });
    // Above what is held, a state can overtake its own message:new (the worker's description of an
    // attachment travels another path): it is that message, newer. Older ones arrive when loaded.
    else if (s.loaded && message.seq > s.last) this.add(message);
  }

  /** `message:deleted`. */
  deleted(id: string): void {
    const at = new Date().toISOString();
    this.change(id, (m) => asDeleted(m, at));
  }

  /** `message:reaction`. */
  reaction(r: MessageReaction): void {
    this.change(r.messageId, (m) => withReaction(m, r));
  }

  /** A session is ready: typing is stale, and what was missed is synced. */
  resume(): void {
    this.typing.reset();
    this.attempt = 0;
    this.autoSync();
  }

  /** The connection went away. */
  down(): void {
    this.typing.reset();
  }

  /** The list says the conversation has news: sync if it is ahead of what is held. */
  listed(view: ConversationView): void {
    const s = this.messages.get();
    // A sync in progress pages to the end anyway.
    if (s.loaded && view.lastSeq > s.last && !this.running) this.autoSync();
  }

  // --- actions ---

  /** `loadOlder`: the page of history before the oldest held message. */
  loadOlder(limit = INITIAL_PAGE): Promise<boolean> {
    this.loadingOlder ??= (async () => {
      const s = this.messages.get();
      if (!s.loaded) {
        await this.sync();
        return this.messages.get().hasOlder;
      }
      if (!s.hasOlder) return false;
      const before = this.cursor ?? s.items[0]?.seq;
      const page = await this.deps.api.history(this.deps.id, before === undefined ? { limit } : { before, limit });
      this.cursor = page.nextBefore ?? undefined;
      this.set({ items: mergeMessages(this.messages.get().items, page.messages), hasOlder: page.nextBefore !== null });
      return page.nextBefore !== null;
    })().finally(() => (this.loadingOlder = undefined));
    return this.loadingOlder;
  }

  /** Sends delivered for the highest seq held from other users. */
  private sendDelivered(): void {
    const self = this.deps.selfId();
    const items = this.messages.get().items;
    for (let i = items.length - 1; i >= 0; i--) {
      const m = items[i] as TimelineMessage;
      if (m.senderId !== self) return this.deps.receipts.want("delivered", this.deps.id, m.seq);
    }
  }

  /** Frees timers and subscriptions. */
  destroy(): void {
    this.destroyed = true;
    this.cancelRetry?.();
    this.cancelGap?.();
    this.typing.stop();
    this.typing.reset();
    for (const off of this.unsubscribe) off();
    this.discontinuities.clear();
  }

  private change(id: string, update: (m: TimelineMessage) => TimelineMessage): void {
    const s = this.messages.get();
    const items = updateMessage(s.items, id, update);
    if (items !== s.items) this.set({ items });
  }

  private set(patch: Partial<MessagesSnapshot>): void {
    this.messages.set({ ...this.messages.get(), ...patch });
  }

  private refreshPending(): void {
    const s = this.messages.get();
    const acked = new Set(s.items.map((m) => m.clientMsgId));
    const pending = this.deps.outbox.messages.get().filter((m) => m.conversationId === this.deps.id && !acked.has(m.clientMsgId));
    if (pending.length !== s.pending.length || pending.some((m, i) => m !== s.pending[i])) this.set({ pending });
  }

  private refreshReceipts(): void {
    const view = this.deps.list.get().find((c) => c.id === this.deps.id);
    const cur = this.receipts.get();
    if (!view) return;
    if (view.readPointers === cur.read && view.deliveredPointers === cur.delivered && view.unreadCount === cur.unread) return;
    this.receipts.set({ read: view.readPointers, delivered: view.deliveredPointers, unread: view.unreadCount });
  }
}
