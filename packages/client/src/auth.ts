/**
 * Sessions made simple: register, log in, log out, and `getToken()`, a token provider for the SDK and
 * the REST client that refreshes the access token (rotating the refresh token) a minute before it
 * expires, one refresh at a time.
 */
import type { AuthSession, PublicUser, RouteInput } from "@parley/protocol";

import { ParleyError } from "./errors.js";
import { createRestClient, type TokenHint } from "./rest.js";
import { createStore, type Store } from "./store.js";

/** What is stored of a session: its tokens and what {@link SessionAuth.session} shows. */
export interface StoredSession {
  user: PublicUser;
  sessionId: string;
  accessToken: string;
  /** Spent by each refresh: store the new one, forget the old. Keep it out of URLs and logs. */
  refreshToken: string;
  /** When `accessToken` expires, ISO-8601. */
  expiresAt: string;
  /** Lifetime of `accessToken` when it was issued, in seconds. */
  expiresIn: number;
}

/** Where the session's tokens are kept between page loads or runs. */
export interface TokenStorage {
  /** The stored session; null when there is none (or it cannot be read). */
  load(): Promise<StoredSession | null>;
  save(session: StoredSession): Promise<void>;
  clear(): Promise<void>;
}

/** The logged-in session, as an app shows it; null when logged out. */
export interface SessionInfo {
  user: PublicUser;
  sessionId: string;
  /** When the current access token expires, ISO-8601 (it is refreshed before). */
  expiresAt: string;
}

/** Options of {@link createSessionAuth}. */
export interface SessionAuthOptions {
  /** Where the API is, as for `createRestClient`. */
  url: string;
  /** @default memoryTokens(): the session ends with the process or page */
  storage?: TokenStorage;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /**
   * The clock, in milliseconds since the epoch. Only tests that move time need it.
   * @default Date.now
   */
  now?: () => number;
}

/** A session on the API's session endpoints, and the token provider of that session. */
export interface SessionAuth {
  /** The current session; null before a login and after a logout or a refused refresh. */
  readonly session: Store<SessionInfo | null>;
  /** Resolves once the stored session (if any) is loaded into {@link session}. */
  readonly ready: Promise<void>;
  /** Creates an account and logs in as it. @throws {ParleyError} as `auth.register` answers. */
  register(input: RouteInput<"auth.register">["body"]): Promise<SessionInfo>;
  /** Opens a session. @throws {ParleyError} as `auth.login` answers (`INVALID_CREDENTIALS`, …). */
  login(input: RouteInput<"auth.login">["body"]): Promise<SessionInfo>;
  /**
   * Ends this session on the server and forgets it here; it is forgotten here even when the server
   * cannot be reached (then this throws `UNAVAILABLE`).
   */
  logout(): Promise<void>;
  /** Ends every session of the user, this one included, and forgets it here; as {@link logout}. */
  logoutAll(): Promise<void>;
  /**
   * An access token with more than a minute (or half its lifetime, when shorter) left, refreshed
   * first when needed. Concurrent callers share one refresh. With `expired` naming the current token
   * (the server refused it: clocks disagree), refreshes anyway.
   * @throws {ParleyError} `AUTH_REQUIRED` when logged out; the refresh's error when it fails. A refresh
   * refused with `SESSION_REVOKED`, `INVALID_TOKEN`, `TOKEN_EXPIRED` or `USER_NOT_FOUND` also ends the
   * session here: log in again.
   */
  getToken(hint?: TokenHint): Promise<string>;
}

/** Refresh this long before the access token expires (at most half its lifetime). */
const REFRESH_MARGIN_MS = 60_000;

/** Refusals of a refresh after which the session is over. */
const SESSION_OVER: ReadonlySet<string> = new Set(["SESSION_REVOKED", "INVALID_TOKEN", "TOKEN_EXPIRED", "USER_NOT_FOUND"]);

/** Keeps the session in memory only: it ends with the process or the page. */
export function memoryTokens(): TokenStorage {
  let stored: StoredSession | null = null;
  return {
    load: async () => stored,
    save: async (session) => {
      stored = session;
    },
    clear: async () => {
      stored = null;
    },
  };
}

/** The Web Storage API's part that {@link localStorageTokens} uses. */
interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Keeps the session in the browser's `localStorage` under `key`, so that it survives reloads and is
 * shared by the tabs of the origin (a tab that finds a newer refresh there uses it instead of spending
 * its own). Where there is no `localStorage` (Node, a worker, storage disabled), keeps it in memory.
 * @param key @default "parley.session"
 */
export function localStorageTokens(key = "parley.session"): TokenStorage {
  const storage = webStorage();
  if (!storage) return memoryTokens();
  return {
    async load() {
      try {
        const text = storage.getItem(key);
        return text === null ? null : (JSON.parse(text) as StoredSession);
      } catch {
        return null;
      }
    },
    save: async (session) => storage.setItem(key, JSON.stringify(session)),
    clear: async () => storage.removeItem(key),
  };
}

function webStorage(): KeyValueStorage | undefined {
  try {
    const candidate = (globalThis as { localStorage?: KeyValueStorage }).localStorage;
    // Reading the property can throw, and so can a first use (Safari's private mode, a full quota).
    if (!candidate) return undefined;
    const probe = "parley.storage-probe";
    candidate.setItem(probe, probe);
    candidate.removeItem(probe);
    return candidate;
  } catch {
    return undefined;
  }
}

const notLoggedIn = () => new ParleyError({ code: "AUTH_REQUIRED", message: "Not logged in" });

const infoOf = ({ user, sessionId, expiresAt }: StoredSession): SessionInfo => ({ user, sessionId, expiresAt });

/** Creates a {@link SessionAuth} on the API at `options.url`, starting from the stored session. */
export function createSessionAuth(options: SessionAuthOptions): SessionAuth {
  const storage = options.storage ?? memoryTokens();
  const now = options.now ?? Date.now;
  const session = createStore<SessionInfo | null>(null);
  let current: StoredSession | null = null;
  /** Moves on every login, register and forget: a refresh that started before is stale. */
  let generation = 0;
  let refreshing: Promise<string> | undefined;

  const rest = createRestClient({ url: options.url, getToken: (hint) => getToken(hint), ...(options.fetch && { fetch: options.fetch }) });

  const ready = storage.load().then(
    (stored) => {
      // A login that finished first wins over what was stored.
      if (stored && !current) adopt(stored);
    },
    () => undefined,
  );

  function adopt(stored: StoredSession): void {
    current = stored;
    session.set(infoOf(stored));
  }

  /** What is stored of an answer of register, login or refresh, received now. */
  const storedOf = (answer: AuthSession): StoredSession => ({ ...answer, expiresAt: new Date(now() + answer.expiresIn * 1000).toISOString() });

  async function begin(answer: AuthSession): Promise<SessionInfo> {
    generation++;
    const stored = storedOf(answer);
    adopt(stored);
    await storage.save(stored);
    return infoOf(stored);
  }

  async function forget(): Promise<void> {
    generation++;
    current = null;
    session.set(null);
    await storage.clear();
  }

  function fresh(stored: StoredSession): boolean {
    const margin = Math.min(REFRESH_MARGIN_MS, (stored.expiresIn * 1000) / 2);
    return Date.parse(stored.expiresAt) - now() > margin;
  }

  async function refresh(from: StoredSession, started: number): Promise<string> {
    // Another tab sharing the storage may have refreshed already: its refresh token is the live one.
    const shared = await storage.load().catch(() => null);
    const base = shared && shared.sessionId === from.sessionId && shared.refreshToken !== from.refreshToken ? shared : from;
    if (base !== from && fresh(base)) {
      if (generation === started) adopt(base);
      return base.accessToken;
    }
    let answer;
    try {
      answer = await rest.call("auth.refresh", { body: { refreshToken: base.refreshToken } });
    } catch (err) {
      if (err instanceof ParleyError && SESSION_OVER.has(err.code) && generation === started) await forget();
      throw err;
    }
    const stored = storedOf(answer);
    // A login or logout meanwhile made this refresh stale: its tokens are dropped.
    if (generation !== started) return latestToken();
    adopt(stored);
    await storage.save(stored);
    return stored.accessToken;
  }

  /** The current session's token after a stale refresh, refreshed (outside the stale flight) when needed. */
  async function latestToken(): Promise<string> {
    const latest = current;
    if (!latest) throw notLoggedIn();
    return fresh(latest) ? latest.accessToken : refresh(latest, generation);
  }

  async function getToken(hint?: TokenHint): Promise<string> {
    await ready;
    const stored = current;
    if (!stored) throw notLoggedIn();
    const refused = hint?.expired !== undefined && hint.expired === stored.accessToken;
    if (!refused && fresh(stored)) return stored.accessToken;
    if (!refreshing) {
      const flight = refresh(stored, generation).finally(() => {
        if (refreshing === flight) refreshing = undefined;
      });
      refreshing = flight;
    }
    return refreshing;
  }

  async function end(name: "auth.logout" | "auth.logoutAll"): Promise<void> {
    await ready;
    if (!current) return;
    try {
      await rest.call(name, {});
    } catch (err) {
      // A 401 means the session is over on the server already; anything else is reported, after
      // forgetting the session here all the same.
      if (!(err instanceof ParleyError && err.status === 401)) {
        await forget();
        throw err;
      }
    }
    await forget();
  }

  return {
    session,
    ready,
    async register(input) {
      await ready;
      return begin(await rest.call("auth.register", { body: input }));
    },
    async login(input) {
      await ready;
      return begin(await rest.call("auth.login", { body: input }));
    },
    logout: () => end("auth.logout"),
    logoutAll: () => end("auth.logoutAll"),
    getToken,
  };
}
