/**
 * Sessions ending on a real cluster: nginx in front of two gateway processes, the API and the worker.
 * Whatever ends a session (a password change, an account's deletion, logout, logout everywhere, the
 * revocation of one session) cuts its sockets on both gateways within a second of the HTTP answer,
 * `session:ended` `{ code: "SESSION_REVOKED" }` first, and its tokens stop working on REST; the
 * sockets of sessions it spares stay connected and keep working.
 */
import { afterEach, describe, expect, it } from "vitest";

import type { AuthSession, SessionEnded } from "@parley/protocol";

import type { ApiResponse } from "../helpers/api-client.js";
import { closeAllClients, connectError, type ClientSocket } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";

const fixture = useCluster("accounts");
afterEach(() => closeAllClients());

const PASSWORD = "correct horse battery";
/** How long after the HTTP answer every socket of an ended session must be gone. */
const CUT_WITHIN_MS = 1_000;

/** A session of one user: its tokens, and a socket on each gateway. */
interface LiveSession {
  userId: string;
  token: string;
  sessionId: string;
  sockets: ClientSocket[];
}

/** A fresh user with `count` sessions (the registration's first), each connected to both gateways. */
async function userWithSessions(count: number): Promise<{ username: string; sessions: LiveSession[] }> {
  const { api } = fixture;
  const registered = await api.register("acct");
  const username = registered.user.username;
  const tokens = [{ token: registered.token, sessionId: registered.sessionId }];
  while (tokens.length < count) {
    const res = await api.request<AuthSession>("POST", "/api/auth/login", { body: { username, password: PASSWORD } });
    expect(res.status).toBe(200);
    tokens.push({ token: res.body.accessToken, sessionId: res.body.sessionId });
  }
  const sessions: LiveSession[] = [];
  for (const { token, sessionId } of tokens) {
    const sockets = [(await fixture.connectTo(0, token)).socket, (await fixture.connectTo(1, token)).socket];
    sessions.push({ userId: registered.id, token, sessionId, sockets });
  }
  return { username, sessions };
}

/**
 * Resolves once `socket` has received `session:ended` with `SESSION_REVOKED` and then disconnected;
 * rejects if it disconnects without being told so first.
 */
function revoked(socket: ClientSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    let ended: SessionEnded | undefined;
    socket.on("session:ended", (payload) => {
      ended = payload;
    });
    socket.on("disconnect", (reason) => {
      if (ended?.code === "SESSION_REVOKED") resolve();
      else reject(new Error(`disconnected (${reason}) after ${JSON.stringify(ended ?? "no session:ended")}`));
    });
  });
}

/**
 * Runs `act` (one HTTP request, answering `status`), then requires every socket of `ended` to be cut
 * with `SESSION_REVOKED` within {@link CUT_WITHIN_MS} of the answer, their tokens to be refused on
 * REST, and the sessions of `spared` to go on, over REST and on both gateways.
 */
async function expectEnded(act: () => Promise<ApiResponse<unknown>>, status: number, ended: LiveSession[], spared: LiveSession[]): Promise<void> {
  const cut = ended.flatMap((s) => s.sockets).map(revoked);
  const res = await act();
  expect(res.status).toBe(status);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`sockets still connected ${CUT_WITHIN_MS} ms after the answer`)), CUT_WITHIN_MS);
  });
  try {
    await Promise.race([Promise.all(cut), deadline]);
  } finally {
    clearTimeout(timer);
  }

  for (const session of ended) {
    const refused = await fixture.api.request<{ error: { code: string } }>("GET", "/api/users/me", { token: session.token });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("SESSION_REVOKED");
  }
  for (const session of spared) {
    expect((await fixture.api.request("GET", "/api/users/me", { token: session.token })).status).toBe(200);
    for (const socket of session.sockets) {
      expect(socket.connected).toBe(true);
      expect(await socket.timeout(5_000).emitWithAck("presence:query", { userIds: [session.userId] })).toMatchObject({ ok: true });
    }
  }
}

describe("a password change", () => {
  it("cuts every other session's sockets on both gateways within a second; the caller's socket survives", async () => {
    const { username, sessions } = await userWithSessions(3);
    const [caller, ...others] = sessions as [LiveSession, ...LiveSession[]];
    const newPassword = "a brand new password";
    await expectEnded(
      () => fixture.api.request("POST", "/api/users/me/password", { token: caller.token, body: { currentPassword: PASSWORD, newPassword } }),
      204,
      others,
      [caller],
    );
    // A revoked session cannot reconnect; the new password logs in.
    expect((await connectError(fixture.cluster.url, { token: others[0]!.token })).data?.code).toBe("SESSION_REVOKED");
    expect((await fixture.api.request("POST", "/api/auth/login", { body: { username, password: newPassword } })).status).toBe(200);
  });
});

describe("an account's deletion", () => {
  it("cuts every session's sockets on both gateways within a second, the caller's included", async () => {
    const { username, sessions } = await userWithSessions(2);
    await expectEnded(() => fixture.api.request("DELETE", "/api/users/me", { token: sessions[0]!.token, body: { password: PASSWORD } }), 204, sessions, []);
    for (const session of sessions) expect((await connectError(fixture.cluster.url, { token: session.token })).data?.code).toBe("USER_NOT_FOUND");
    expect((await fixture.api.request("POST", "/api/auth/login", { body: { username, password: PASSWORD } })).status).toBe(401);
  });
});

describe("logout, logout everywhere and revoking one session", () => {
  it("POST /api/auth/logout cuts the caller's session on both gateways within a second, and only it", async () => {
    const { sessions } = await userWithSessions(2);
    const [caller, other] = sessions as [LiveSession, LiveSession];
    await expectEnded(() => fixture.api.request("POST", "/api/auth/logout", { token: caller.token }), 204, [caller], [other]);
  });

  it("POST /api/auth/logout-all cuts every session of the caller on both gateways within a second", async () => {
    const { sessions } = await userWithSessions(2);
    const bystander = (await userWithSessions(1)).sessions;
    await expectEnded(() => fixture.api.request("POST", "/api/auth/logout-all", { token: sessions[1]!.token }), 204, sessions, bystander);
  });

  it("DELETE /api/auth/sessions/:id cuts that session on both gateways within a second; the caller's survives", async () => {
    const { sessions } = await userWithSessions(2);
    const [caller, target] = sessions as [LiveSession, LiveSession];
    await expectEnded(() => fixture.api.request("DELETE", `/api/auth/sessions/${target.sessionId}`, { token: caller.token }), 204, [target], [caller]);
  });
});
