/**
 * Call signaling: the requests of a 1:1 WebRTC call as promises, the server's call events as
 * listeners, and the ICE servers to use. No WebRTC here: the app owns its RTCPeerConnection.
 */
import type { CallMedia, ClientToServerEvents, EventPayload, EventResult, IceCandidateInit, IceServer, ServerToClientEvents } from "@parley/protocol";

import { ParleyError } from "../errors.js";
import { Emitter } from "../lib/emitter.js";
import type { Requester } from "../transport/requests.js";
import type { IceServers } from "./ice-servers.js";

/** The server's call events. */
export const CALL_EVENTS = [
  "call:incoming",
  "call:offer",
  "call:answer",
  "call:ice-candidate",
  "call:answered-elsewhere",
  "call:rejected",
  "call:cancelled",
  "call:ended",
  "call:missed",
] as const satisfies readonly (keyof ServerToClientEvents)[];

/** A call event name. */
export type CallEvent = (typeof CALL_EVENTS)[number];

/** The payload of call event `E`. */
export type CallPayload<E extends CallEvent> = Parameters<ServerToClientEvents[E]>[0];

type CallRequest = Extract<keyof ClientToServerEvents, `call:${string}`>;

type CallListeners = { [E in CallEvent]: (payload: CallPayload<E>) => void };

/**
 * Signaling of 1:1 calls. Every method rejects with a {@link ParleyError} when the server refuses
 * (`BUSY`, `NOT_FOUND`: the call is over, `CONFLICT`…) or does not answer; `RATE_LIMITED` is waited
 * out and sent again, in order.
 */
export interface Calls {
  /** Calls `calleeId`; resolves with the call id. */
  initiate(calleeId: string, media: CallMedia): Promise<string>;
  /** Sends the caller's SDP offer. */
  offer(callId: string, sdp: string): Promise<void>;
  /** Sends the callee's SDP answer (answers the call on this device). */
  answer(callId: string, sdp: string): Promise<void>;
  /** Sends a local ICE candidate (`event.candidate.toJSON()`). */
  ice(callId: string, candidate: IceCandidateInit): Promise<void>;
  /** Declines a ringing call (callee). */
  reject(callId: string): Promise<void>;
  /** Gives up on a ringing call (caller). */
  cancel(callId: string): Promise<void>;
  /** Hangs up. */
  end(callId: string): Promise<void>;
  /**
   * The STUN and TURN servers for a call's `RTCPeerConnection` (`{ iceServers }`), with TURN
   * credentials of this user's own; an empty list means host candidates only. Cached until shortly
   * before the credentials expire: ask again for each new call.
   * @throws {ParleyError} when the API cannot be reached or refuses.
   */
  iceServers(): Promise<IceServer[]>;
  /** Calls `listener` on every `event`; returns the function that stops it. */
  on<E extends CallEvent>(event: E, listener: (payload: CallPayload<E>) => void): () => void;
}

/** What call signaling needs. */
export interface CallsDeps {
  request: Requester;
  /** Waits `ms` (the client's timers, so that `dispose()` stops a wait). */
  sleep: (ms: number) => Promise<void>;
  /** Where the ICE servers come from. */
  ice: Pick<IceServers, "get">;
}

/**
 * The {@link Calls} of a client, and the emitter its socket feeds. Signaling requests go one at a
 * time, in order; one refused with `RATE_LIMITED` (the server did nothing) is sent again after
 * `retryAfterMs`, before anything that came after it: candidates keep their order, no SDP is dropped.
 */
export function createCalls({ request, sleep, ice }: CallsDeps): { calls: Calls; events: Emitter<CallListeners> } {
  const events = new Emitter<CallListeners>();
  let queue: Promise<unknown> = Promise.resolve();
  const signal = <E extends CallRequest>(event: E, payload: EventPayload<E>): Promise<EventResult<E>> => {
    const send = async (): Promise<EventResult<E>> => {
      for (;;) {
        try {
          return await request(event, payload);
        } catch (err) {
          if (!(err instanceof ParleyError) || err.code !== "RATE_LIMITED") throw err;
          await sleep(err.retryAfterMs ?? 1000);
        }
      }
    };
    const result = queue.then(send, send);
    queue = result.catch(() => {});
    return result;
  };
  const ref = (event: "call:reject" | "call:cancel" | "call:end") => async (callId: string) => void (await signal(event, { callId }));
  const sdp = (event: "call:offer" | "call:answer") => async (callId: string, value: string) => void (await signal(event, { callId, sdp: value }));
  const calls: Calls = {
    initiate: async (calleeId, media) => (await signal("call:initiate", { calleeId, media })).callId,
    offer: sdp("call:offer"),
    answer: sdp("call:answer"),
    ice: async (callId, candidate) => void (await signal("call:ice-candidate", { callId, candidate })),
    reject: ref("call:reject"),
    cancel: ref("call:cancel"),
    end: ref("call:end"),
    iceServers: () => ice.get(),
    on: (event, listener) => events.on(event, listener),
  };
  return { calls, events };
}
