/**
 * Typing in one conversation: who else is typing (each expiring 6 s after their last start), and this
 * client's own state, throttled to a `typing:start` every 3 s and stopped after 5 s without keystrokes.
 * Typing is volatile: nothing is buffered while offline.
 */
import type { ClientToServerEvents, EventPayload } from "@parley/protocol";

import type { Timers } from "../lib/timers.js";
import { createStore, type Store } from "../store.js";

/** A remote typer without a refresh for this long is shown as stopped. */
export const TYPING_EXPIRY_MS = 6000;
/** The fastest this client repeats `typing:start` while keys keep coming. */
export const TYPING_THROTTLE_MS = 3000;
/** This client stops typing after this long without a keystroke. */
export const TYPING_IDLE_MS = 5000;

/** What typing needs. */
export interface TypingDeps {
  conversationId: string;
  timers: Timers;
  selfId: () => string | undefined;
  isReady: () => boolean;
  volatile: <E extends "typing:start" | "typing:stop">(event: E & keyof ClientToServerEvents, payload: EventPayload<E>) => void;
}

/** The typing state of one conversation. */
export class Typing {
  private readonly store = createStore<readonly string[]>([]);
  private readonly expiries = new Map<string, () => void>();
  private typing = false;
  private lastStartAt = -Infinity;
  private cancelIdle: (() => void) | undefined;

  constructor(private readonly deps: TypingDeps) {}

  /** The ids of the other users typing, in the order they started. */
  get users(): Store<readonly string[]> {
    return this.store;
  }

  /** A `typing` event for this conversation. */
  onEvent(userId: string, isTyping: boolean): void {
    if (userId === this.deps.selfId()) return;
    this.expiries.get(userId)?.();
    this.expiries.delete(userId);
    if (!isTyping) {
      this.remove(userId);
      return;
    }
    this.expiries.set(
      userId,
      this.deps.timers.set(() => {
        this.expiries.delete(userId);
        this.remove(userId);
      }, TYPING_EXPIRY_MS),
    );
    if (!this.store.get().includes(userId)) this.store.set([...this.store.get(), userId]);
  }

  /** A key was pressed in this conversation's input. */
  keystroke(): void {
    if (!this.deps.isReady()) return;
    const now = Date.now();
    if (!this.typing || now - this.lastStartAt >= TYPING_THROTTLE_MS) {
      this.deps.volatile("typing:start", { conversationId: this.deps.conversationId });
      this.lastStartAt = now;
    }
    this.typing = true;
    this.cancelIdle?.();
    this.cancelIdle = this.deps.timers.set(() => this.stop(), TYPING_IDLE_MS);
  }

  /** This client stopped typing (input cleared, message sent, idle). */
  stop(): void {
    this.cancelIdle?.();
    this.cancelIdle = undefined;
    if (!this.typing) return;
    this.typing = false;
    this.lastStartAt = -Infinity;
    this.deps.volatile("typing:stop", { conversationId: this.deps.conversationId });
  }

  /** The connection went away or came back: every state is stale (the server stops a socket's typing on disconnect). */
  reset(): void {
    this.cancelIdle?.();
    this.cancelIdle = undefined;
    this.typing = false;
    this.lastStartAt = -Infinity;
    for (const cancel of this.expiries.values()) cancel();
    this.expiries.clear();
    if (this.store.get().length > 0) this.store.set([]);
  }

  private remove(userId: string): void {
    const users = this.store.get();
    if (users.includes(userId)) this.store.set(users.filter((u) => u !== userId));
  }
}
