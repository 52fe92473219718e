/**
 * The ICE servers of calls: the STUN and TURN servers the deployment lists (`CALL_ICE_SERVERS`), and a
 * TURN server with ephemeral credentials in coturn's shared-secret scheme (`TURN_URLS`, `TURN_SECRET`):
 * the username is `<unix expiry>:<userId>` and the credential base64(HMAC-SHA1(secret, username)), which
 * the TURN server checks with the same secret. No long-lived TURN secret reaches a browser, each user's
 * credentials stop working at their expiry, and rotating `TURN_SECRET` revokes them all.
 */
import { createHmac } from "node:crypto";

import { z } from "zod";

import { intVar } from "@parley/shared/config";
import type { IceServer, IceServerList } from "@parley/protocol";

/** A STUN or TURN URL, as `RTCIceServer.urls` takes it (RFC 7064, RFC 7065). */
const IceUrl = z.string().regex(/^(stun|stuns|turn|turns):[^\s]+$/, "must be a stun:, stuns:, turn: or turns: URL");

/** One entry of `CALL_ICE_SERVERS`: an `RTCIceServer` without the deprecated fields; unknown keys are refused (a typo such as `url`). */
const ConfiguredIceServer = z.strictObject({
  urls: z.union([IceUrl, z.array(IceUrl).min(1, "must list at least one URL")], { error: "must be a stun:, stuns:, turn: or turns: URL, or an array of them" }),
  username: z.string().min(1).optional(),
  credential: z.string().min(1).optional(),
});

/** A JSON array of {@link ConfiguredIceServer}, read from a string variable. */
const iceServersVar = z
  .string()
  .transform((value, ctx): unknown => {
    try {
      return JSON.parse(value);
    } catch {
      // Not the parser's message: it quotes the value, which may hold credentials.
      ctx.addIssue({ code: "custom", message: "must be a JSON array of { urls, username?, credential? }: it is not JSON" });
      return z.NEVER;
    }
  })
  .pipe(z.array(ConfiguredIceServer, { error: "must be a JSON array of { urls, username?, credential? }" }));

/** A comma-separated list of `turn:` and `turns:` URLs. */
const turnUrlsVar = z.string().transform((value, ctx) => {
  const urls = value.split(",").map((u) => u.trim()).filter((u) => u !== "");
  if (urls.length === 0) ctx.addIssue({ code: "custom", message: "must list at least one turn: or turns: URL" });
  for (const url of urls) if (!/^turns?:[^\s]+$/.test(url)) ctx.addIssue({ code: "custom", message: `"${url}" is not a turn: or turns: URL` });
  return urls;
});

/** Settings of the ICE servers that `GET /api/calls/ice-servers` answers. */
export const iceConfigShape = {
  /**
   * STUN and TURN servers for calls, a JSON array of `RTCIceServer`s:
   * `[{"urls":"stun:stun.example.com:3478"},{"urls":["turn:turn.example.com"],"username":"u","credential":"c"}]`.
   * Their credentials, if any, reach every logged-in user: use `TURN_URLS` for a TURN server of your own.
   * @default none: host candidates only, enough when both parties are on one network
   */
  CALL_ICE_SERVERS: iceServersVar.optional(),
  /**
   * A TURN server (coturn with `use-auth-secret`) given to each user with credentials of their own, a
   * comma-separated list of its `turn:` and `turns:` URLs. Needs `TURN_SECRET`.
   * @default unset: no such server
   */
  TURN_URLS: turnUrlsVar.optional(),
  /**
   * The TURN server's shared secret (coturn's `static-auth-secret`), at least 16 characters; it signs
   * the credentials and never leaves the API. Changing it revokes every credential given out.
   * @default unset
   */
  TURN_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  /**
   * Lifetime of the TURN credentials, in seconds.
   * @default 3600
   */
  TURN_CREDENTIAL_TTL_SECONDS: intVar(60).max(7 * 86_400).default(3600),
} as const;

/** The validated settings of {@link iceConfigShape}. */
export type IceConfig = z.output<z.ZodObject<typeof iceConfigShape>>;

/** Cross-check for the API schema's `superRefine`: `TURN_URLS` and `TURN_SECRET` go together. */
export function checkIceConfig(config: Partial<Pick<IceConfig, "TURN_URLS" | "TURN_SECRET">>, ctx: z.RefinementCtx): void {
  if (config.TURN_URLS && !config.TURN_SECRET) ctx.addIssue({ code: "custom", path: ["TURN_SECRET"], message: "is required with TURN_URLS" });
  if (config.TURN_SECRET && !config.TURN_URLS) ctx.addIssue({ code: "custom", path: ["TURN_URLS"], message: "is required with TURN_SECRET" });
}

/** coturn's shared-secret credential of `username`: base64(HMAC-SHA1(secret, username)). */
export function turnCredential(secret: string, username: string): string {
  return createHmac("sha1", secret).update(username).digest("base64");
}

/**
 * The ICE servers of `userId` at `now` (ms): the configured ones, then the TURN server with credentials
 * valid until `expiresAt`, when there is one.
 */
export function iceServersFor(config: IceConfig, userId: string, now: number = Date.now()): IceServerList {
  const iceServers: IceServer[] = [...(config.CALL_ICE_SERVERS ?? [])];
  if (!config.TURN_URLS || !config.TURN_SECRET) return { iceServers };
  const expiry = Math.floor(now / 1000) + config.TURN_CREDENTIAL_TTL_SECONDS;
  const username = `${expiry}:${userId}`;
  iceServers.push({ urls: config.TURN_URLS, username, credential: turnCredential(config.TURN_SECRET, username) });
  return { iceServers, expiresAt: new Date(expiry * 1000).toISOString() };
}
