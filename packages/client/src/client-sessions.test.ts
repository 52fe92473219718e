/**
 * Session lifecycle of the SDK against a real cluster with 8-second access tokens: a live socket
 * outlives its token through `session:expiring` and `auth:refresh`, and a revoked session makes the
 * connection `failed`.
 */
import { afterEach, describe, expect, it } from "vitest";

import { useCluster } from "../../../test/helpers/cluster.js";
import { createSessionAuth, type SessionAuth } from "./auth.js";
import { createClient, type ParleyClient } from "./client.js";
import type { ConnectionSnapshot } from "./connection/connection.js";
import { until } from "./testing/until.js";

const TTL_SECONDS = 8;
const fixture = useCluster("sdk-sessions", { env: { ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS), SESSION_EXPIRY_WARNING_SECONDS: "4" } });
const PASSWORD = "correct horse battery";
const clients: ParleyClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});

async function loggedIn(): Promise<{ auth: SessionAuth; client: ParleyClient; states: ConnectionSnapshot["state"][] }> {
  const user = await fixture.api.register("sess");
  const auth = createSessionAuth({ url: fixture.cluster.url });
  await auth.login({ username: user.user.username, password: PASSWORD });
  const client = createClient({ url: fixture.cluster.url, getToken: auth.getToken, transports: ["websocket"] });
  clients.push(client);
  const states: ConnectionSnapshot["state"][] = [];
  client.connection.subscribe(() => states.push(client.connection.get().state));
  return { auth, client, states };
}

describe("sessions through the SDK", () => {
  it("keeps one live socket past several token lifetimes, refreshing it in place", async () => {
    const { auth, client, states } = await loggedIn();
    await client.connect();
    const { node } = client.connection.get();
    const first = Date.parse(auth.session.get()?.expiresAt ?? "");
    // Two refreshes later the first token is long expired; the socket never left.
    await until(auth.session, (s) => Date.parse(s?.expiresAt ?? "") > first + 2 * TTL_SECONDS * 1000, "two refreshes", 30_000);
    expect(Date.now()).toBeGreaterThan(first);
    expect(client.connection.get()).toMatchObject({ state: "ready", node });
    expect(states).toEqual(["connecting", "ready"]);
    // The REST client works on the same provider.
    const { conversations } = await client.rest.call("conversations.list", {});
    expect(conversations).toEqual([]);
  }, 40_000);

  it("fails with SESSION_REVOKED when the session is ended elsewhere", async () => {
    const { auth, client } = await loggedIn();
    await client.connect();
    await auth.logoutAll();
    const snapshot = await until(client.connection, (c) => c.state === "failed", "the connection to fail");
    expect(snapshot.error?.code).toBe("SESSION_REVOKED");
  });
});
