/**
 * `createClient`: the realtime client and the typed REST client of one user, on one token provider.
 */
import { buildRealtimeClient, type ClientOptions, type RealtimeClient } from "./client-core.js";
import { createTokenSource } from "./connection/token-source.js";
import { restAttachmentsApi } from "./attachments/attachments-api.js";
import { restCallsApi } from "./calls/ice-servers.js";
import { restConversationsApi } from "./conversations/history.js";
import { createRestClient, type RestClient } from "./rest.js";

/** A parley client for one user: realtime state as stores, and the REST API. */
export interface ParleyClient extends RealtimeClient {
  /** The typed REST client, on the same single-flight token provider. */
  readonly rest: RestClient;
}

/**
 * Creates a client for one user. Nothing connects until `connect()`. Create it once, outside any UI
 * component (React StrictMode mounts twice), and `dispose()` it at logout.
 *
 * @example
 * const auth = createSessionAuth({ url });
 * await auth.login({ username, password });
 * const client = createClient({ url, getToken: auth.getToken });
 * await client.connect();
 */
export function createClient(options: ClientOptions): ParleyClient {
  const tokens = createTokenSource(options.getToken);
  const rest = createRestClient({
    url: options.url,
    getToken: (hint) => {
      if (hint?.expired !== undefined) tokens.invalidate(hint.expired);
      return tokens.get();
    },
  });
  return { ...buildRealtimeClient(options, { ...restConversationsApi(rest), ...restAttachmentsApi(rest), ...restCallsApi(rest) }, tokens), rest };
}
