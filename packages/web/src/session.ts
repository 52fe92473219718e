/**
 * The app's session and its client, created outside React (StrictMode mounts components twice, and a
 * client belongs to a login, not to a component): one `SessionAuth` for the page, and one
 * `ParleyClient` per logged-in user, made when a session starts and disposed when it ends.
 */
import {
  createClient,
  createSessionAuth,
  createStore,
  indexedDbStorage,
  localStorageTokens,
  type ParleyClient,
  type Store,
} from "@parley/client";

/** parley is on the page's own origin: the API under /api/, Socket.IO under /socket.io/. */
const origin = window.location.origin;

/** Register, log in, log out; the tokens live in localStorage, so a reload keeps the session. */
export const auth = createSessionAuth({ url: origin, storage: localStorageTokens("parley.session") });

const clientStore = createStore<ParleyClient | null>(null);
/** The client of the logged-in user; null while logged out. */
export const currentClient: Store<ParleyClient | null> = clientStore;

let owner: string | undefined;

/** Makes the client follow the session: a new one for a new user, none without a session. */
function follow(): void {
  const user = auth.session.get()?.user;
  if (owner !== undefined && owner !== user?.id) {
    void clientStore.get()?.dispose();
    clientStore.set(null);
    owner = undefined;
  }
  if (user && owner === undefined) {
    owner = user.id;
    const client = createClient({
      url: origin,
      getToken: auth.getToken,
      // One database per user: a message written offline is sent after a reload, by its own author only.
      storage: indexedDbStorage(`parley-outbox-${user.id}`),
    });
    clientStore.set(client);
    // A failure shows in `client.connection` (the banner says what to do); nothing to catch here.
    client.connect().catch(() => undefined);
  }
}

auth.session.subscribe(follow);
void auth.ready.then(follow);
