/**
 * The outbox: every message of this client that the server has not acknowledged yet, in send order,
 * persisted to an {@link OutboxStorage}. The SDK owns it, not Socket.IO's send buffer: nothing is sent
 * before `session:ready`, each conversation drains in order, one message in flight at a time, and every
 * resend reuses the message's `clientMsgId`, so that the server keeps exactly one copy.
 */
import type { Message } from "@parley/protocol";

import { toParleyError, type ParleyError } from "../errors.js";
import { backoffDelay } from "../lib/backoff.js";
import type { Runtime } from "../lib/runtime.js";
import { createStore, type Store } from "../store.js";
import { isNoAnswer } from "../transport/requests.js";
import type { LocalMessage } from "./local-message.js";
import type { OutboxStorage } from "./storage.js";

/** What a send may do to its message while it runs (the steps of a message with attachments). */
export interface SendContext {
  /**
   * Changes the message in the outbox (and in the stores), written to the storage when `persist`; the
   * changed message, or undefined when it is no longer in the outbox (discarded) or the client is disposed.
   */
  update(change: (message: LocalMessage) => LocalMessage, persist: boolean): LocalMessage | undefined;
  /** Aborted when the message is discarded or the client disposed. */
  signal: AbortSignal;
}

/** What the outbox needs. */
export interface OutboxDeps extends Runtime {
  storage: OutboxStorage;
  /**
   * Sends one message (`message:send` with an ack timeout, after uploading its attachments): the
   * acknowledged message, or a ParleyError.
   */
  send: (message: LocalMessage, context: SendContext) => Promise<Message>;
  /** A message was acknowledged; runs before it leaves the outbox. */
  onSent: (message: Message, local: LocalMessage) => void;
}

/** Unsent messages of every conversation, and the loops that send them. */
export class Outbox {
  private readonly store = createStore<readonly LocalMessage[]>([]);
  private readonly draining = new Set<string>();
  private readonly attempts = new Map<string, number>();
  /** The sends running now, by clientMsgId, to abort an upload when its message is discarded. */
  private readonly inflight = new Map<string, AbortController>();
  private writes: Promise<void> = Promise.resolve();
  private lastQueuedAt = 0;
  private disposed = false;
  /** Resolves once the storage was read; nothing is sent before. */
  readonly loaded: Promise<void>;

  constructor(private readonly deps: OutboxDeps) {
    this.loaded = deps.storage.load().then(
      (stored) => {
        if (this.disposed) return;
        const known = new Set(this.store.get().map((m) => m.clientMsgId));
        const restored = stored
          .filter((m) => !known.has(m.clientMsgId))
          // Something sent but not deleted (a crash between the two) goes out again: the server deduplicates.
          .map((m): LocalMessage => (m.state === "failed" ? m : { ...m, state: "pending" }))
          .sort((a, b) => a.queuedAt - b.queuedAt);
        for (const m of restored) this.lastQueuedAt = Math.max(this.lastQueuedAt, m.queuedAt);
        this.store.set([...restored, ...this.store.get()]);
        this.resume();
      },
      (err: unknown) => deps.logger.error("parley: the outbox storage could not be read", err),
    );
  }

  /** Every unsent or failed message, in send order. */
  get messages(): Store<readonly LocalMessage[]> {
    return this.store;
  }

  /** A `queuedAt` for a new message: now, or just after the last one. */
  nextQueuedAt(): number {
    this.lastQueuedAt = Math.max(Date.now(), this.lastQueuedAt + 1);
    return this.lastQueuedAt;
  }

  /** Queues `message` (state `pending`) and sends it as soon as its turn comes. */
  add(message: LocalMessage): void {
    if (this.disposed) return;
    this.store.set([...this.store.get(), message]);
    this.persist(message);
    this.drain(message.conversationId);
  }

  /** Queues a `failed` message again, with the same `clientMsgId`. */
  retry(clientMsgId: string): void {
    const message = this.find(clientMsgId);
    if (!message || message.state !== "failed") return;
    this.attempts.delete(clientMsgId);
    this.replace({ ...message, state: "pending", error: undefined });
    this.drain(message.conversationId);
  }

  /**
   * Removes a message from the outbox. A message already in flight may still reach the server; its
   * acknowledgement then adds it to the conversation as usual.
   */
  discard(clientMsgId: string): void {
    if (!this.find(clientMsgId)) return;
    this.remove(clientMsgId);
    this.inflight.get(clientMsgId)?.abort();
  }

  /** A session is ready: sends what waits, in every conversation. */
  resume(): void {
    if (!this.deps.isReady()) return;
    for (const id of new Set(this.store.get().map((m) => m.conversationId))) this.drain(id);
  }

  /** Resolves once every storage write so far is done. */
  flush(): Promise<void> {
    return this.writes;
  }

  /** Stops sending; pending messages stay in the storage for the next client. */
  dispose(): void {
    this.disposed = true;
    for (const controller of this.inflight.values()) controller.abort();
  }

  private drain(conversationId: string): void {
    if (this.draining.has(conversationId) || this.disposed) return;
    this.draining.add(conversationId);
    void this.loaded
      .then(async () => {
        for (;;) {
          if (this.disposed || !this.deps.isReady()) return;
          const next = this.store.get().find((m) => m.conversationId === conversationId && m.state === "pending");
          if (!next) return;
          await this.sendOne(next);
        }
      })
      .finally(() => this.draining.delete(conversationId));
  }

  private async sendOne(message: LocalMessage): Promise<void> {
    const { clientMsgId } = message;
    const attempt = this.attempts.get(clientMsgId) ?? 0;
    this.attempts.set(clientMsgId, attempt + 1);
    const controller = new AbortController();
    this.inflight.set(clientMsgId, controller);
    const update: SendContext["update"] = (change, persist) => {
      const current = this.find(clientMsgId);
      if (!current || this.disposed) return undefined;
      const next = change(current);
      this.replace(next, persist);
      return next;
    };
    let sent: Message;
    try {
      sent = await this.deps.send(message, { update, signal: controller.signal });
    } catch (err) {
      return this.onError(clientMsgId, toParleyError(err), attempt);
    } finally {
      this.inflight.delete(clientMsgId);
    }
    this.attempts.delete(clientMsgId);
    this.deps.onSent(sent, message);
    if (this.find(clientMsgId)) this.remove(clientMsgId);
  }

  private async onError(clientMsgId: string, error: ParleyError, attempt: number): Promise<void> {
    const current = this.find(clientMsgId);
    if (!current || this.disposed) return;
    // No answer: if the connection is still up, send again at once (same clientMsgId, so the server
    // answers with the original if the first one arrived); if it is down, the next session:ready resumes.
    if (isNoAnswer(error)) return;
    if (error.code === "RATE_LIMITED" || error.retryable) {
      this.replace({ ...current, error });
      const wait = error.retryAfterMs ?? backoffDelay(attempt, this.deps.backoff, this.deps.random);
      this.deps.logger.debug(`parley: message ${clientMsgId} waits ${wait} ms (${error.code})`);
      await this.deps.timers.sleep(wait);
      return;
    }
    this.deps.logger.warn(`parley: message ${clientMsgId} failed (${error.code})`, error);
    this.attempts.delete(clientMsgId);
    this.replace({ ...current, state: "failed", error });
  }

  private find(clientMsgId: string): LocalMessage | undefined {
    return this.store.get().find((m) => m.clientMsgId === clientMsgId);
  }

  /** Puts `message` in place of its older state; writes it to the storage unless `persist` is false. */
  private replace(message: LocalMessage, persist = true): void {
    this.store.set(this.store.get().map((m) => (m.clientMsgId === message.clientMsgId ? message : m)));
    if (persist) this.persist(message);
  }

  private remove(clientMsgId: string): void {
    this.attempts.delete(clientMsgId);
    this.store.set(this.store.get().filter((m) => m.clientMsgId !== clientMsgId));
    this.write(() => this.deps.storage.delete(clientMsgId));
  }

  private persist(message: LocalMessage): void {
    this.write(() => this.deps.storage.put(message));
  }

  /** Storage writes run one after the other, in the order of the changes. */
  private write(op: () => Promise<void>): void {
    this.writes = this.writes.then(op).catch((err: unknown) => this.deps.logger.error("parley: outbox storage write failed", err));
  }
}
