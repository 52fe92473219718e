/** Payloads that pass validation for every client event, for tests that go through the dispatcher. */
import { randomUUID } from "node:crypto";

import { Types } from "mongoose";

import type { ClientToServerEvents } from "@parley/protocol";

type ClientEvent = keyof ClientToServerEvents;

const oid = () => new Types.ObjectId().toHexString();

/** A minimal payload of `event` that passes validation (its handler may still refuse it). */
export function validPayload(event: ClientEvent): unknown {
  const id = oid();
  const callId = randomUUID();
  const payloads: Record<ClientEvent, unknown> = {
    "message:send": { conversationId: id, clientMsgId: `c-${oid()}`, content: "hi" },
    "message:edit": { messageId: id, content: "edited" },
    "message:delete": { messageId: id },
    "message:react": { messageId: id, emoji: "👍" },
    "typing:start": { conversationId: id },
    "typing:stop": { conversationId: id },
    "conversation:delivered": { conversationId: id, seq: 1 },
    "conversation:read": { conversationId: id, seq: 1 },
    "presence:query": { userIds: [id] },
    sync: { conversationId: id, afterSeq: 0 },
    "auth:refresh": { token: "a.b.c" },
    "call:initiate": { calleeId: id, media: "audio" },
    "call:offer": { callId, sdp: "v=0" },
    "call:answer": { callId, sdp: "v=0" },
    "call:ice-candidate": { callId, candidate: { candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host" } },
    "call:reject": { callId },
    "call:cancel": { callId },
    "call:end": { callId },
  };
  return payloads[event];
}

/** A payload of `event` that passes validation with every optional string field set too. */
export function everyStringPayload(event: ClientEvent): unknown {
  const base = validPayload(event) as Record<string, unknown>;
  const id = oid();
  switch (event) {
    case "message:send":
      return { ...base, type: "text", replyToId: id };
    case "message:edit":
    case "message:delete":
    case "message:react":
      return { ...base, conversationId: id };
    case "sync":
      return { ...base, epoch: "e1" };
    case "call:ice-candidate":
      return { ...base, candidate: { candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", sdpMid: "0", usernameFragment: "uf" } };
    default:
      return base;
  }
}

/** The paths (`a.b.0`) of every string in `value`, keys excluded. */
export function stringPaths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value === "string") return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringPaths(v, [...path, i]));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => stringPaths(v, [...path, k]));
  return [];
}

/** `value` with the string at `path` replaced by `replacement` (a deep copy). */
export function withStringAt(value: unknown, path: readonly (string | number)[], replacement: string): unknown {
  const copy: unknown = structuredClone(value);
  if (path.length === 0) return replacement;
  let at = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  at[path.at(-1)!] = replacement;
  return copy;
}
