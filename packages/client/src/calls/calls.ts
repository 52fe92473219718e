/**
 * Call signaling: the requests of a 1:1 WebRTC call as promises, and the server's call events as
 * listeners. No WebRTC here: the app owns its RTCPeerConnection.
 */
import type { CallMedia, IceCandidateInit, ServerToClientEvents } from "@parley/protocol";

import { Emitter } from "../lib/emitter.js";
import type { Requester } from "../transport/requests.js";

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

type CallListeners = { [E in CallEvent]: (payload: CallPayload<E>) => void };

/**
 * Signaling of 1:1 calls. Every method rejects with a {@link ParleyError} when the server refuses
 * (`BUSY`, `NOT_FOUND`: the call is over, `CONFLICT`…) or does not answer.
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
  /** Calls `listener` on every `event`; returns the function that stops it. */
  on<E extends CallEvent>(event: E, listener: (payload: CallPayload<E>) => void): () => void;
}

/** The {@link Calls} of a client, and the emitter its socket feeds. */
export function createCalls(request: Requester): { calls: Calls; events: Emitter<CallListeners> } {
  const events = new Emitter<CallListeners>();
  const ref = (event: "call:reject" | "call:cancel" | "call:end") => async (callId: string) => void (await request(event, { callId }));
  const sdp = (event: "call:offer" | "call:answer") => async (callId: string, value: string) => void (await request(event, { callId, sdp: value }));
  const calls: Calls = {
    initiate: async (calleeId, media) => (await request("call:initiate", { calleeId, media })).callId,
    offer: sdp("call:offer"),
    answer: sdp("call:answer"),
    ice: async (callId, candidate) => void (await request("call:ice-candidate", { callId, candidate })),
    reject: ref("call:reject"),
    cancel: ref("call:cancel"),
    end: ref("call:end"),
    on: (event, listener) => events.on(event, listener),
  };
  return { calls, events };
}
