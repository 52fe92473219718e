/**
 * Presence of the users an app shows: queried after every `session:ready` (at most 500 ids per query),
 * then kept live from `presence:update`. Each `client.presence(ids)` is a handle; an id is tracked while
 * a handle holds it, and forgotten a little after the last one is released.
 */
import type { Presence } from "@parley/protocol";

import { toParleyError } from "../errors.js";
import { backoffDelay } from "../lib/backoff.js";
import { RELEASE_DELAY_MS } from "../lib/refcount.js";
import type { Runtime } from "../lib/runtime.js";
import { createStore, type Store } from "../store.js";
import type { Requester } from "../transport/requests.js";

/**
 * Most ids in one `presence:query`: the protocol's `MAX_PRESENCE_QUERY`, restated here because that
 * constant lives beside the zod schemas, and importing it would bring zod into every bundle (a test
 * checks that the two agree).
 */
export const PRESENCE_QUERY_CHUNK = 500;

/** The presence of some users, by id; a user not answered yet is absent. */
export type PresenceMap = Readonly<Record<string, Presence>>;

/** A store of the presence of the users it was made for; `release()` when it is no longer shown. */
export interface PresenceHandle extends Store<PresenceMap> {
  /** Stops tracking these users for this handle. Idempotent. */
  release(): void;
}

/** What presence needs. */
export interface PresenceDeps extends Runtime {
  request: Requester;
}

/** Presence of every tracked user. */
export class PresenceTracker {
  private readonly all = createStore<PresenceMap>({});
  private readonly refs = new Map<string, number>();
  private attempt = 0;

  constructor(private readonly deps: PresenceDeps) {}

  /** A handle on the presence of `userIds`. */
  track(userIds: readonly string[]): PresenceHandle {
    const ids = [...new Set(userIds)];
    const fresh = ids.filter((id) => !this.refs.has(id));
    for (const id of ids) this.refs.set(id, (this.refs.get(id) ?? 0) + 1);
    if (fresh.length > 0) void this.query(fresh);
    let snapshot: PresenceMap = this.pick(ids);
    let released = false;
    return {
      get: () => {
        const next = this.pick(ids);
        if (ids.some((id) => next[id] !== snapshot[id])) snapshot = next;
        return snapshot;
      },
      subscribe: (listener) => this.all.subscribe(() => {
        const before = snapshot;
        const next = this.pick(ids);
        if (ids.some((id) => next[id] !== before[id])) {
          snapshot = next;
          listener();
        }
      }),
      release: () => {
        if (released) return;
        released = true;
        this.deps.timers.set(() => this.untrack(ids), RELEASE_DELAY_MS);
      },
    };
  }

  /** `presence:update`. */
  update(userId: string, presence: Presence): void {
    if (!this.refs.has(userId)) return;
    const { status, lastSeen } = presence;
    this.all.set({ ...this.all.get(), [userId]: { status, lastSeen } });
  }

  /** A session is ready: ask again for everyone tracked (updates while offline were not kept). */
  resume(): void {
    this.attempt = 0;
    void this.query([...this.refs.keys()]);
  }

  private async query(ids: string[]): Promise<void> {
    if (!this.deps.isReady()) return;
    for (let i = 0; i < ids.length; i += PRESENCE_QUERY_CHUNK) {
      const chunk = ids.slice(i, i + PRESENCE_QUERY_CHUNK).filter((id) => this.refs.has(id));
      if (chunk.length === 0) continue;
      try {
        const { presence } = await this.deps.request("presence:query", { userIds: chunk });
        const next = { ...this.all.get() };
        for (const id of chunk) if (presence[id] && this.refs.has(id)) next[id] = presence[id];
        this.all.set(next);
      } catch (err) {
        const error = toParleyError(err);
        if (!error.retryable || !this.deps.isReady()) return;
        const wait = error.retryAfterMs ?? backoffDelay(this.attempt++, this.deps.backoff, this.deps.random);
        this.deps.timers.set(() => void this.query(ids.slice(i)), wait);
        return;
      }
    }
  }

  private untrack(ids: readonly string[]): void {
    const gone: string[] = [];
    for (const id of ids) {
      const n = (this.refs.get(id) ?? 1) - 1;
      if (n > 0) this.refs.set(id, n);
      else {
        this.refs.delete(id);
        gone.push(id);
      }
    }
    if (gone.length === 0) return;
    const next = { ...this.all.get() };
    for (const id of gone) delete next[id];
    this.all.set(next);
  }

  private pick(ids: readonly string[]): PresenceMap {
    const all = this.all.get();
    const out: Record<string, Presence> = {};
    for (const id of ids) if (all[id]) out[id] = all[id];
    return out;
  }
}
