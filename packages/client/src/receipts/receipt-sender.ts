/**
 * This client's own delivery and read pointers, sent to the server: debounced, only ever forwards,
 * only the highest seq, and sent again after a reconnect when it was not acknowledged.
 */
import type { ParleyError } from "../errors.js";
import { toParleyError } from "../errors.js";
import { backoffDelay } from "../lib/backoff.js";
import type { Runtime } from "../lib/runtime.js";
import type { Requester } from "../transport/requests.js";
import { isNoAnswer } from "../transport/requests.js";

/** Debounce of `conversation:delivered`, in milliseconds. */
export const DELIVERED_DEBOUNCE_MS = 200;
/** Debounce of `conversation:read`, in milliseconds. */
export const READ_DEBOUNCE_MS = 500;

/** Which pointer. */
export type PointerKind = "delivered" | "read";

interface Pointer {
  /** The highest seq asked for. */
  wanted: number;
  /** The highest seq the server acknowledged (or that the listing showed). */
  done: number;
  inflight: boolean;
  cancelTimer?: () => void;
  attempt: number;
}

/** What the sender needs. */
export interface ReceiptSenderDeps extends Runtime {
  request: Requester;
  /** The server acknowledged a pointer: its value after the update. */
  onAck: (kind: PointerKind, conversationId: string, seq: number) => void;
}

/** Sends `conversation:delivered` and `conversation:read` for every conversation. */
export class ReceiptSender {
  private readonly pointers = { delivered: new Map<string, Pointer>(), read: new Map<string, Pointer>() };

  constructor(private readonly deps: ReceiptSenderDeps) {}

  /** Asks for `kind` to reach `seq` in `conversationId` (debounced; ignored when not forward). */
  want(kind: PointerKind, conversationId: string, seq: number): void {
    const p = this.pointer(kind, conversationId);
    if (seq <= Math.max(p.wanted, p.done)) return;
    p.wanted = seq;
    if (kind === "read") this.known("delivered", conversationId, seq);
    if (!p.cancelTimer && !p.inflight) {
      p.cancelTimer = this.deps.timers.set(() => {
        p.cancelTimer = undefined;
        void this.flush(kind, conversationId);
      }, kind === "read" ? READ_DEBOUNCE_MS : DELIVERED_DEBOUNCE_MS);
    }
  }

  /** The server already has `kind` at `seq` (from the listing or another device): never ask below it. */
  known(kind: PointerKind, conversationId: string, seq: number): void {
    const p = this.pointer(kind, conversationId);
    p.done = Math.max(p.done, seq);
  }

  /** A session is ready: sends every pointer that was not acknowledged. */
  resume(): void {
    for (const kind of ["delivered", "read"] as const) {
      for (const [id, p] of this.pointers[kind]) if (p.wanted > p.done && !p.cancelTimer) void this.flush(kind, id);
    }
  }

  private pointer(kind: PointerKind, conversationId: string): Pointer {
    const map = this.pointers[kind];
    let p = map.get(conversationId);
    if (!p) map.set(conversationId, (p = { wanted: 0, done: 0, inflight: false, attempt: 0 }));
    return p;
  }

  private async flush(kind: PointerKind, conversationId: string): Promise<void> {
    const p = this.pointer(kind, conversationId);
    if (p.inflight || p.wanted <= p.done || !this.deps.isReady()) return;
    const seq = p.wanted;
    p.inflight = true;
    try {
      const res = await this.deps.request(kind === "read" ? "conversation:read" : "conversation:delivered", { conversationId, seq });
      p.attempt = 0;
      // A seq clamped to the conversation's last one is done too: never ask for it again.
      p.done = Math.max(p.done, seq, res.seq);
      this.deps.onAck(kind, conversationId, res.seq);
    } catch (err) {
      this.retryLater(kind, conversationId, p, toParleyError(err));
    } finally {
      p.inflight = false;
    }
    // More arrived while this one was in flight.
    if (p.wanted > p.done && !p.cancelTimer) void this.flush(kind, conversationId);
  }

  private retryLater(kind: PointerKind, conversationId: string, p: Pointer, error: ParleyError): void {
    if (isNoAnswer(error) && !this.deps.isReady()) return; // resume() sends it after the reconnect
    if (!error.retryable) {
      this.deps.logger.warn(`parley: conversation:${kind} refused (${error.code})`, error);
      p.done = Math.max(p.done, p.wanted);
      return;
    }
    const wait = error.retryAfterMs ?? backoffDelay(p.attempt++, this.deps.backoff, this.deps.random);
    p.cancelTimer = this.deps.timers.set(() => {
      p.cancelTimer = undefined;
      void this.flush(kind, conversationId);
    }, wait);
  }
}
