/**
 * The app's 1:1 calls, outside React: the WebRTC side (media, the `RTCPeerConnection`, trickle ICE) of
 * the SDK's call signaling (`client.calls`), as a store of what the screens show. One call at a time,
 * as the server allows; every way a call ends stops the tracks and closes the connection.
 *
 * Caller: media, ICE servers, `initiate`, then the offer, then its candidates. Callee: every device
 * rings and keeps the offer and the caller's candidates; the one that accepts answers, then sends its
 * own candidates (the server refuses them before the answer). Remote candidates wait until the remote
 * description is set.
 */
import { createStore, toParleyError, type CallPayload, type ParleyClient, type Store } from "@parley/client";
import type { CallMedia, IceCandidateInit } from "@parley/protocol";

import { describeError } from "./errors.js";

/** Where a call is: getting media and calling, ringing at the other end, ringing here, answering, or answered. */
export type CallPhase = "starting" | "ringing" | "incoming" | "accepting" | "active";

/** The call on screen. */
export interface CallState {
  /** Undefined while the call is being started. */
  callId: string | undefined;
  /** The other party. */
  peerId: string;
  media: CallMedia;
  direction: "outgoing" | "incoming";
  phase: CallPhase;
  /** The peer connection's `connectionState`; `new` until there is one. */
  connection: RTCPeerConnectionState;
  local: MediaStream | null;
  remote: MediaStream | null;
  muted: boolean;
  cameraOff: boolean;
  /** When the peer connection first connected (ms since the epoch). */
  connectedAt: number | null;
}

/** Why the last call ended, when the person should be told. */
export type CallNoticeKind = "declined" | "missed" | "unanswered" | "busy" | "ended" | "lost" | "media" | "failed" | "error";

/** A notice about the last call. */
export interface CallNotice {
  kind: CallNoticeKind;
  peerId: string;
  /** How long the call lasted (ms), for `ended` and `lost`. */
  durationMs?: number;
  /** What went wrong, for `media` and `error`. */
  detail?: string;
}

/** What the call screens show. */
export interface CallsSnapshot {
  call: CallState | null;
  notice: CallNotice | null;
}

/** What getUserMedia's refusal means to a person. */
export function describeMediaError(err: unknown): string {
  const name = err instanceof DOMException || err instanceof Error ? err.name : "";
  if (name === "NotAllowedError" || name === "SecurityError") return "Permission to use the microphone or camera was denied.";
  if (name === "NotFoundError" || name === "OverconstrainedError") return "No microphone or camera was found.";
  if (name === "NotReadableError") return "The microphone or camera is in use by another application.";
  return "The microphone or camera could not be started.";
}

/** A failure of getUserMedia, told apart from signaling failures. */
class MediaError extends Error {
  constructor(cause: unknown) {
    super(describeMediaError(cause), { cause });
    this.name = this.constructor.name;
  }
}

/** The WebRTC side of one call; a new one for every call, so that nothing of a call outlives it. */
interface Session {
  pc: RTCPeerConnection | null;
  local: MediaStream | null;
  /** The caller's offer, kept while ringing. */
  offer: string | null;
  /** Called when the offer arrives while accepting. */
  onOffer: (() => void) | null;
  /** Remote candidates that came before the remote description. */
  remoteCandidates: IceCandidateInit[];
  /** Local candidates that came before the offer or the answer went out. */
  localCandidates: IceCandidateInit[] | null;
}

/** The calls of one client. */
export class CallController {
  private readonly store = createStore<CallsSnapshot>({ call: null, notice: null });
  private session: Session | null = null;

  constructor(private readonly client: ParleyClient) {
    const calls = client.calls;
    calls.on("call:incoming", (p) => this.incoming(p));
    calls.on("call:offer", (p) => this.onCall(p.callId, (s) => this.remoteOffer(s, p.sdp)));
    calls.on("call:answer", (p) => this.onCall(p.callId, (s) => void this.remoteAnswer(s, p.sdp)));
    calls.on("call:ice-candidate", (p) => this.onCall(p.callId, (s) => this.remoteCandidate(s, p.candidate)));
    calls.on("call:answered-elsewhere", (p) => this.onCall(p.callId, () => this.finish(null)));
    calls.on("call:rejected", (p) => this.onCall(p.callId, () => this.finish(this.call?.direction === "outgoing" ? "declined" : null)));
    calls.on("call:cancelled", (p) => this.onCall(p.callId, () => this.finish("missed")));
    calls.on("call:missed", (p) => this.onCall(p.callId, () => this.finish(this.call?.direction === "outgoing" ? "unanswered" : "missed")));
    calls.on("call:ended", (p) =>
      // A caller that goes away while it rings here made a missed call.
      this.onCall(p.callId, () => this.finish(this.call?.phase === "incoming" ? "missed" : p.reason === "hangup" ? "ended" : "lost")),
    );
    // A call belongs to the socket that made or answered it: the server ends it when that socket goes
    // (the other side gets `call:ended`), and a reconnected socket is no party of it.
    let ready = client.connection.get().state === "ready";
    client.connection.subscribe(() => {
      const now = client.connection.get().state === "ready";
      if (ready && !now && this.call) this.finish(this.call.phase === "incoming" ? null : "lost");
      ready = now;
    });
    // Leaving the page hangs up; a device that only rings here stays out of it (the others keep ringing).
    window.addEventListener("pagehide", () => {
      const call = this.call;
      if (call && call.phase !== "incoming") this.hangUp();
    });
  }

  /** The call and the last notice, live. */
  get state(): Store<CallsSnapshot> {
    return this.store;
  }

  private get call(): CallState | null {
    return this.store.get().call;
  }

  private update(change: Partial<CallState>): void {
    const { call, notice } = this.store.get();
    if (call) this.store.set({ call: { ...call, ...change }, notice });
  }

  /** Runs `handle` for an event of the current call; events of other calls are not ours. */
  private onCall(callId: string, handle: (session: Session) => void): void {
    const session = this.session;
    if (session && this.call?.callId === callId) handle(session);
  }

  /** Calls `peerId`. Does nothing while there is a call. */
  start(peerId: string, media: CallMedia): void {
    if (this.call) return;
    const session = this.begin({ callId: undefined, peerId, media, direction: "outgoing", phase: "starting" });
    void this.run(session, async () => {
      const local = await this.media(session, media);
      const iceServers = await this.client.calls.iceServers();
      this.current(session);
      let callId: string;
      try {
        callId = await this.client.calls.initiate(peerId, media);
      } catch (err) {
        if (toParleyError(err).code === "BUSY") return this.finish("busy", { session });
        throw err;
      }
      if (this.session !== session) {
        // Cancelled while the call was being placed.
        void this.client.calls.cancel(callId).catch(() => undefined);
        return;
      }
      this.update({ callId, phase: "ringing" });
      const pc = this.connect(session, iceServers, local);
      await pc.setLocalDescription(await pc.createOffer());
      this.current(session);
      await this.signal(session, () => this.client.calls.offer(callId, pc.localDescription?.sdp ?? ""));
    });
  }

  /** Answers the call ringing here. */
  accept(): void {
    const session = this.session;
    const call = this.call;
    if (!session || call?.phase !== "incoming" || call.callId === undefined) return;
    const callId = call.callId;
    this.update({ phase: "accepting" });
    void this.run(session, async () => {
      // A failure ends the call from here (`call:end` while ringing declines it): the caller stops ringing.
      const local = await this.media(session, call.media);
      const iceServers = await this.client.calls.iceServers();
      this.current(session);
      const pc = this.connect(session, iceServers, local);
      const offer = session.offer ?? (await new Promise<string>((resolve) => (session.onOffer = () => resolve(session.offer ?? ""))));
      this.current(session);
      await pc.setRemoteDescription({ type: "offer", sdp: offer });
      this.flushRemote(session);
      await pc.setLocalDescription(await pc.createAnswer());
      this.current(session);
      await this.signal(session, () => this.client.calls.answer(callId, pc.localDescription?.sdp ?? ""));
      this.update({ phase: "active" });
    });
  }

  /** Declines the call ringing here (on every device of this user). */
  decline(): void {
    const callId = this.call?.callId;
    if (callId !== undefined) void this.client.calls.reject(callId).catch(() => undefined);
    this.finish(null);
  }

  /** Ends the call: cancels it while it rings, hangs up after. */
  hangUp(): void {
    const call = this.call;
    if (!call) return;
    if (call.callId !== undefined) {
      const callId = call.callId;
      const end = call.phase === "ringing" || call.phase === "starting" ? this.client.calls.cancel(callId) : this.client.calls.end(callId);
      void end.catch(() => undefined);
    }
    this.finish(call.phase === "active" ? "ended" : null);
  }

  /** Mutes or unmutes the microphone. */
  toggleMute(): void {
    const call = this.call;
    if (!call) return;
    for (const track of this.session?.local?.getAudioTracks() ?? []) track.enabled = call.muted;
    this.update({ muted: !call.muted });
  }

  /** Turns the camera off or on (video calls). */
  toggleCamera(): void {
    const call = this.call;
    if (!call) return;
    for (const track of this.session?.local?.getVideoTracks() ?? []) track.enabled = call.cameraOff;
    this.update({ cameraOff: !call.cameraOff });
  }

  /** Forgets the notice. */
  dismiss(): void {
    const { call } = this.store.get();
    this.store.set({ call, notice: null });
  }

  private begin(call: Pick<CallState, "callId" | "peerId" | "media" | "direction" | "phase">): Session {
    const session: Session = { pc: null, local: null, offer: null, onOffer: null, remoteCandidates: [], localCandidates: [] };
    this.session = session;
    this.store.set({
      call: { ...call, connection: "new", local: null, remote: null, muted: false, cameraOff: false, connectedAt: null },
      notice: null,
    });
    return session;
  }

  private incoming({ callId, callerId, media }: CallPayload<"call:incoming">): void {
    // The server rings no one who is in a call; a call here already is another device's business.
    if (this.call) return;
    this.begin({ callId, peerId: callerId, media, direction: "incoming", phase: "incoming" });
  }

  /** Throws when `session` is no longer the call (it ended meanwhile), so that its steps stop. */
  private current(session: Session): void {
    if (this.session !== session) throw new Superseded();
  }

  /** Runs the steps of `session`; a failure ends the call with a notice, unless the call already ended. */
  private async run(session: Session, steps: () => Promise<void>): Promise<void> {
    try {
      await steps();
    } catch (err) {
      if (err instanceof Superseded || this.session !== session) return;
      const callId = this.call?.callId;
      if (callId !== undefined) void this.client.calls.end(callId).catch(() => undefined);
      if (err instanceof MediaError) this.finish("media", { session, detail: err.message });
      else this.finish("error", { session, detail: describeError(err) });
    }
  }

  private async media(session: Session, media: CallMedia): Promise<MediaStream> {
    let local: MediaStream;
    try {
      local = await navigator.mediaDevices.getUserMedia({ audio: true, video: media === "video" });
    } catch (err) {
      throw new MediaError(err);
    }
    if (this.session !== session) {
      for (const track of local.getTracks()) track.stop();
      throw new Superseded();
    }
    session.local = local;
    this.update({ local });
    return local;
  }

  /** The peer connection of `session`, with the local tracks on it and its events wired. */
  private connect(session: Session, iceServers: RTCIceServer[], local: MediaStream): RTCPeerConnection {
    const pc = new RTCPeerConnection({ iceServers });
    session.pc = pc;
    for (const track of local.getTracks()) pc.addTrack(track, local);
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate || this.session !== session) return;
      const init = candidate.toJSON() as IceCandidateInit;
      if (session.localCandidates) session.localCandidates.push(init);
      else this.sendCandidate(init);
    };
    pc.ontrack = ({ track, streams }) => {
      if (this.session !== session) return;
      const remote = streams[0] ?? this.call?.remote ?? new MediaStream();
      if (!remote.getTracks().includes(track)) remote.addTrack(track);
      this.update({ remote });
    };
    pc.onconnectionstatechange = () => {
      if (this.session !== session) return;
      const connection = pc.connectionState;
      this.update({ connection, ...(connection === "connected" && this.call?.connectedAt === null && { connectedAt: Date.now() }) });
      if (connection === "failed") {
        const callId = this.call?.callId;
        if (callId !== undefined) void this.client.calls.end(callId).catch(() => undefined);
        this.finish("failed", { session });
      }
    };
    return pc;
  }

  /** Sends the offer or the answer, then the local candidates that waited for it. */
  private async signal(session: Session, send: () => Promise<void>): Promise<void> {
    // Signaling goes out in order: candidates queued after the SDP reach the server after it.
    const sent = send();
    const waiting = session.localCandidates ?? [];
    session.localCandidates = null;
    for (const candidate of waiting) this.sendCandidate(candidate);
    await sent;
  }

  private sendCandidate(candidate: IceCandidateInit): void {
    const callId = this.call?.callId;
    // A refusal means the call is over, which its own event says.
    if (callId !== undefined) void this.client.calls.ice(callId, candidate).catch(() => undefined);
  }

  private remoteOffer(session: Session, sdp: string): void {
    session.offer = sdp;
    session.onOffer?.();
  }

  private async remoteAnswer(session: Session, sdp: string): Promise<void> {
    const pc = session.pc;
    if (!pc) return;
    await this.run(session, async () => {
      await pc.setRemoteDescription({ type: "answer", sdp });
      this.current(session);
      this.flushRemote(session);
      this.update({ phase: "active" });
    });
  }

  private remoteCandidate(session: Session, candidate: IceCandidateInit): void {
    const pc = session.pc;
    if (pc?.remoteDescription) void pc.addIceCandidate(candidate).catch(() => undefined);
    else session.remoteCandidates.push(candidate);
  }

  private flushRemote(session: Session): void {
    const waiting = session.remoteCandidates;
    session.remoteCandidates = [];
    for (const candidate of waiting) void session.pc?.addIceCandidate(candidate).catch(() => undefined);
  }

  /**
   * Ends the call on this side: stops the tracks, closes the connection, and tells the person `kind`
   * (nothing for null). With `session`, only if that is still the call.
   */
  private finish(kind: CallNoticeKind | null, options: { session?: Session; detail?: string } = {}): void {
    const session = this.session;
    const call = this.call;
    if (!session || !call || (options.session && options.session !== session)) return;
    this.session = null;
    for (const track of session.local?.getTracks() ?? []) track.stop();
    session.pc?.close();
    session.onOffer = null;
    const durationMs = call.connectedAt === null ? undefined : Date.now() - call.connectedAt;
    const notice: CallNotice | null =
      kind === null
        ? null
        : {
            kind,
            peerId: call.peerId,
            ...((kind === "ended" || kind === "lost") && durationMs !== undefined && { durationMs }),
            ...(options.detail !== undefined && { detail: options.detail }),
          };
    this.store.set({ call: null, notice });
  }

  /** Ends any call, for a client that goes away (logout). */
  dispose(): void {
    this.hangUp();
  }
}

/** Thrown by the steps of a call that ended meanwhile: nothing to report. */
class Superseded extends Error {
  constructor() {
    super("the call ended");
    this.name = this.constructor.name;
  }
}

const controllers = new WeakMap<ParleyClient, CallController>();

/** The calls of `client`, made on first use. */
export function callsOf(client: ParleyClient): CallController {
  let controller = controllers.get(client);
  if (!controller) controllers.set(client, (controller = new CallController(client)));
  return controller;
}
