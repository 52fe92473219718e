/**
 * Who the ids are: the users this client has met (members of its conversations, search results),
 * fetched once each over REST and kept for the session.
 */
import { useEffect, useState } from "react";

import { createStore, type ParleyClient, type Store } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { describeError } from "./errors.js";
import { useStore } from "./hooks.js";

type Users = Readonly<Record<string, PublicUser>>;

/** The users of one client, by id. */
export class UserDirectory {
  private readonly store = createStore<Users>({});
  private readonly asked = new Set<string>();

  constructor(private readonly client: ParleyClient) {}

  /** Every user known so far. */
  get users(): Store<Users> {
    return this.store;
  }

  /** Users learnt elsewhere (a search, the session). */
  add(users: readonly PublicUser[]): void {
    const fresh = users.filter((u) => this.store.get()[u.id] !== u);
    if (fresh.length > 0) this.store.update((all) => ({ ...all, ...Object.fromEntries(fresh.map((u) => [u.id, u])) }));
  }

  /** Fetches `id` unless it is known or on its way; a failure lets a later call try again. */
  want(id: string): void {
    if (this.asked.has(id) || this.store.get()[id]) return;
    this.asked.add(id);
    this.client.rest.call("users.get", { params: { id } }).then(
      ({ user }) => this.add([user]),
      () => this.asked.delete(id),
    );
  }
}

const directories = new WeakMap<ParleyClient, UserDirectory>();

/** The directory of `client`, made on first use. */
export function directoryOf(client: ParleyClient): UserDirectory {
  let directory = directories.get(client);
  if (!directory) directories.set(client, (directory = new UserDirectory(client)));
  return directory;
}

/** The users `ids` as far as they are known, asking for the others. */
export function useUsers(client: ParleyClient, ids: readonly string[]): Users {
  const directory = directoryOf(client);
  const key = ids.join(",");
  useEffect(() => {
    for (const id of key.split(",")) if (id) directory.want(id);
  }, [directory, key]);
  return useStore(directory.users);
}

/** How a user is named on screen. */
export function nameOf(user: PublicUser | undefined): string {
  if (!user) return "…";
  return user.displayName || user.username;
}

/** How long typing pauses before a search goes out. */
const SEARCH_DELAY_MS = 250;

/**
 * The users whose username starts with `query` (but those of `exclude`), searched once typing pauses:
 * null while nothing was asked or the answer to the current query is on its way.
 */
export function useUserSearch(
  client: ParleyClient,
  query: string,
  exclude: readonly string[],
): { results: readonly PublicUser[] | null; error: string | undefined } {
  const [found, setFound] = useState<{ query: string; users: readonly PublicUser[] } | null>(null);
  const [error, setError] = useState<string>();
  const q = query.trim();

  useEffect(() => {
    if (!q) return;
    let current = true;
    const timer = setTimeout(() => {
      client.rest.call("users.search", { query: { q, limit: 10 } }).then(
        ({ users }) => {
          if (!current) return;
          directoryOf(client).add(users);
          setFound({ query: q, users });
          setError(undefined);
        },
        (err: unknown) => current && setError(describeError(err)),
      );
    }, SEARCH_DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [client, q]);

  const results = q && found?.query === q ? found.users.filter((u) => !exclude.includes(u.id)) : null;
  return { results, error: q ? error : undefined };
}
