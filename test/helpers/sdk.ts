/** Helpers for tests of the SDK (`@parley/client`) against a real cluster. */
import { hostname } from "node:os";

import { createClient, createSessionAuth, type ClientOptions, type ParleyClient } from "@parley/client";

import type { RegisteredUser } from "./api-client.js";
import type { ClusterFixture } from "./cluster.js";

export { until } from "../../packages/client/src/testing/until.js";

/** The password `ApiClient.register` gives every user. */
export const TEST_PASSWORD = "correct horse battery";

/** Every client a test file created, disposed by {@link disposeClients}. */
const created: ParleyClient[] = [];

/** Disposes every client {@link sdkClient} created. */
export async function disposeClients(): Promise<void> {
  await Promise.all(created.splice(0).map((c) => c.dispose()));
}

/**
 * A client of `user` on session auth (logged in with {@link TEST_PASSWORD}), not connected yet.
 * `url` defaults to the cluster's nginx.
 */
export async function sdkClient(
  fixture: ClusterFixture,
  user: RegisteredUser,
  options: Partial<ClientOptions> & { url?: string } = {},
): Promise<ParleyClient> {
  const url = options.url ?? fixture.cluster.url;
  const auth = createSessionAuth({ url });
  await auth.login({ username: user.user.username, password: TEST_PASSWORD });
  const client = createClient({ transports: ["websocket"], ...options, url, getToken: options.getToken ?? auth.getToken });
  created.push(client);
  return client;
}

/** Which of the cluster's gateways serves `client` (from `session:ready.node`), -1 when none. */
export function gatewayOf(fixture: ClusterFixture, client: ParleyClient): number {
  const node = client.connection.get().node;
  return fixture.cluster.gateways.findIndex((g) => node === `${hostname()}-${g.process?.pid}`);
}

/**
 * A connected client of `user` served by gateway `index`: nginx spreads new connections at random, so
 * clients are made (and disposed) until one lands there.
 */
export async function sdkClientOn(fixture: ClusterFixture, index: number, user: RegisteredUser, options: Partial<ClientOptions> = {}): Promise<ParleyClient> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const client = await sdkClient(fixture, user, options);
    await client.connect();
    if (gatewayOf(fixture, client) === index) return client;
    await client.dispose();
  }
  throw new Error(`no client landed on gateway ${index}`);
}
