/**
 * Call state in Redis. Every script touches one hash slot, so Redis Cluster works:
 *
 * - `call(id)` (`{call:<id>}`): hash `callerId`, `calleeId`, `callerSocket`, `calleeSocket` (once answered),
 *   `media`, `state` (`ringing` | `active`), `createdAt`, `answeredAt`; with a TTL refreshed by the
 *   gateways of its parties. A call that ends is deleted.
 * - `userCall(u)` (`{u:<id>}`): the call a user is in or being called to, set NX (so a second call is
 *   `BUSY`), with the same TTL, deleted only by the call that owns it.
 * - `ringingCalls()`: sorted set call id → when it becomes missed (Redis clock, ms), claimed by the
 *   gateways' sweepers with a lease so that exactly one of them announces each missed call.
 *
 * Every change of a call is one script on its hash ({@link CallStore.transition}): it checks who may do
 * what in which state, so two devices answering at once, or an answer racing the timeout, have one winner.
 */
import { BusyError, ConflictError, ForbiddenError, NotFoundError } from "@parley/shared/errors";
import type { CallMedia } from "@parley/protocol";
import { Script, type RedisClient } from "@parley/shared/redis";
import type { RedisKeys } from "@parley/shared/redis-keys";

/** What a socket (or the system) asks of a call. */
export type CallAction = "offer" | "ice" | "answer" | "reject" | "cancel" | "end" | "disconnect" | "miss";

/** The outcome of {@link CallStore.transition}: relay to the other party, answered, or ended. */
export type CallOutcome = "RELAY" | "ANSWERED" | "ENDED" | "IGNORED";

/** A call as it was just before a transition, with the role of the socket that asked. */
export interface CallSnapshot {
  callId: string;
  outcome: CallOutcome;
  state: "ringing" | "active";
  role: "caller" | "callee" | "";
  callerId: string;
  calleeId: string;
  callerSocket: string;
  /** The answering socket; empty while ringing. */
  calleeSocket: string;
  media: CallMedia;
}

/**
 * KEYS: call. ARGV: action, user id, socket id, ttl ms, now (ISO).
 * Returns { code, state, role, callerId, calleeId, callerSocket, calleeSocket, media } or { 'NOT_FOUND' }.
 * `role` is the asking socket's: the caller socket; any device of the callee while ringing, the answering
 * socket after.
 */
const transitionScript = new Script<string[]>(
  "call-transition",
  `
local action, user, socket = ARGV[1], ARGV[2], ARGV[3]
local raw = redis.call('HGETALL', KEYS[1])
if #raw == 0 then return { 'NOT_FOUND' } end
local c = {}
for i = 1, #raw, 2 do c[raw[i]] = raw[i + 1] end
local calleeSocket = c.calleeSocket or ''
local ringing = c.state == 'ringing'
local role = ''
if socket ~= '' and socket == c.callerSocket then role = 'caller'
elseif (ringing and user == c.calleeId) or (not ringing and socket ~= '' and socket == calleeSocket) then role = 'callee' end
local function reply(code)
  return { code, c.state, role, c.callerId, c.calleeId, c.callerSocket, calleeSocket, c.media }
end
local function finish()
  redis.call('DEL', KEYS[1])
  return reply('ENDED')
end

if action == 'miss' then
  if ringing then return finish() end
  return reply('IGNORED')
end
if action == 'disconnect' then
  if socket ~= '' and (socket == c.callerSocket or socket == calleeSocket) then return finish() end
  return reply('IGNORED')
end
if role == '' then
  if action == 'answer' and user == c.calleeId then return reply('CONFLICT') end
  if user == c.callerId or user == c.calleeId then return reply('FORBIDDEN') end
  return { 'NOT_FOUND' }
end
if action == 'offer' then
  if role ~= 'caller' then return reply('FORBIDDEN') end
  return reply('RELAY')
elseif action == 'ice' then
  if role == 'callee' and ringing then return reply('CONFLICT') end
  return reply('RELAY')
elseif action == 'answer' then
  if role ~= 'callee' then return reply('FORBIDDEN') end
  if not ringing then return reply('RELAY') end
  redis.call('HSET', KEYS[1], 'state', 'active', 'calleeSocket', socket, 'answeredAt', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return reply('ANSWERED')
elseif action == 'reject' then
  if role ~= 'callee' then return reply('FORBIDDEN') end
  if not ringing then return reply('CONFLICT') end
  return finish()
elseif action == 'cancel' then
  if role ~= 'caller' then return reply('FORBIDDEN') end
  if not ringing then return reply('CONFLICT') end
  return finish()
elseif action == 'end' then
  return finish()
end
return redis.error_reply('unknown call action ' .. action)
`,
);

/** KEYS: call. ARGV: ttl ms, field, value, field, value… */
const createScript = new Script<number>(
  "call-create",
  `
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`,
);

/**
 * The user's busy mark, if it names this call: `del` deletes it, `expire` sets its TTL. Returns 1 if done.
 * KEYS: user call. ARGV: call id, `del` | `expire`, ttl ms.
 */
const userCallScript = new Script<number>(
  "call-user-mark",
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'del' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[3])
`,
);

/** KEYS: ringing calls. ARGV: call id, timeout ms. Schedules the call's timeout on Redis's clock. */
const scheduleScript = new Script<number>(
  "call-schedule-ring",
  `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return now
`,
);

/**
 * Claims up to `limit` calls past their timeout, each leased for `lease` ms (moved that far into the
 * future) so no other sweeper takes it meanwhile, and a sweeper that dies mid-way is replaced.
 * KEYS: ringing calls. ARGV: lease ms, limit.
 */
const claimDueScript = new Script<string[]>(
  "call-claim-due",
  `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), id) end
return due
`,
);

const REFUSALS = {
  NOT_FOUND: () => new NotFoundError("Call not found"),
  FORBIDDEN: () => new ForbiddenError("Not a party of this call"),
  CONFLICT: () => new ConflictError("The call is not in a state that allows this"),
} as const;

export interface NewCall {
  callId: string;
  callerId: string;
  calleeId: string;
  callerSocket: string;
  media: CallMedia;
}

export class CallStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  /**
   * Marks both users busy (rolling back if either already is), stores the ringing call with a TTL of
   * `ttlMs` and schedules its timeout.
   * @throws {BusyError} when the caller or the callee is already in a call.
   */
  async create(call: NewCall, { ringTimeoutMs, ttlMs }: { ringTimeoutMs: number; ttlMs: number }): Promise<void> {
    const { callId, callerId, calleeId } = call;
    const mark = (userId: string) => this.redis.set(this.keys.userCall(userId), callId, "PX", ttlMs, "NX");
    if ((await mark(callerId)) !== "OK") throw new BusyError("You are already in a call");
    try {
      if ((await mark(calleeId)) !== "OK") throw new BusyError("The callee is in another call");
      await createScript.run(this.redis, [this.keys.call(callId)], [
        ttlMs,
        ...["callerId", callerId, "calleeId", calleeId, "callerSocket", call.callerSocket],
        ...["media", call.media, "state", "ringing", "createdAt", new Date().toISOString()],
      ]);
      await scheduleScript.run(this.redis, [this.keys.ringingCalls()], [callId, ringTimeoutMs]);
    } catch (err) {
      await this.release({ callId, callerId, calleeId, state: "ringing" }).catch(() => {});
      throw err;
    }
  }

  /**
   * Applies `action` by `socketId` of `userId` (empty for the system) to a call.
   * @throws {NotFoundError} no such call, or the user is not in it.
   * @throws {ForbiddenError} the user is in the call, but this socket may not do this.
   * @throws {ConflictError} not in this state (e.g. rejecting an active call, answering it elsewhere).
   */
  async transition(callId: string, action: CallAction, userId: string, socketId: string, ttlMs: number): Promise<CallSnapshot> {
    const reply = await transitionScript.run(this.redis, [this.keys.call(callId)], [action, userId, socketId, ttlMs, new Date().toISOString()]);
    const [code, state, role, callerId, calleeId, callerSocket, calleeSocket, media] = reply;
    if (code === "NOT_FOUND" || code === "FORBIDDEN" || code === "CONFLICT") throw REFUSALS[code]();
    return {
      callId,
      outcome: code as CallOutcome,
      state: state as CallSnapshot["state"],
      role: role as CallSnapshot["role"],
      callerId: callerId!,
      calleeId: calleeId!,
      callerSocket: callerSocket!,
      calleeSocket: calleeSocket!,
      media: media as CallMedia,
    };
  }

  /** Removes what outlives an ended (or never started) call: its timeout and both users' busy marks. */
  async release(call: Pick<CallSnapshot, "callId" | "callerId" | "calleeId" | "state">): Promise<void> {
    const { callId } = call;
    await Promise.all([
      call.state === "ringing" ? this.unschedule(callId) : undefined,
      userCallScript.run(this.redis, [this.keys.userCall(call.callerId)], [callId, "del", 0]),
      userCallScript.run(this.redis, [this.keys.userCall(call.calleeId)], [callId, "del", 0]),
    ]);
  }

  /** Drops a call's timeout (answered, ended, or handled). */
  async unschedule(callId: string): Promise<void> {
    await this.redis.zrem(this.keys.ringingCalls(), callId);
  }

  /** Claims up to `limit` ringing calls past their timeout, for `leaseMs`. */
  async claimDue(leaseMs: number, limit: number): Promise<string[]> {
    return claimDueScript.run(this.redis, [this.keys.ringingCalls()], [leaseMs, limit]);
  }

  /** Extends a live call's state by `ttlMs`; false when the call no longer exists. */
  async refresh(call: Pick<CallSnapshot, "callId" | "callerId" | "calleeId">, ttlMs: number): Promise<boolean> {
    const { callId } = call;
    const [alive] = await Promise.all([
      this.redis.pexpire(this.keys.call(callId), ttlMs),
      userCallScript.run(this.redis, [this.keys.userCall(call.callerId)], [callId, "expire", ttlMs]),
      userCallScript.run(this.redis, [this.keys.userCall(call.calleeId)], [callId, "expire", ttlMs]),
    ]);
    return alive === 1;
  }

  /** The call a user is in or being called to. */
  async callOf(userId: string): Promise<string | null> {
    return this.redis.get(this.keys.userCall(userId));
  }
}
