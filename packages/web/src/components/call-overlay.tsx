/**
 * Calls on screen, above the chat: the incoming call (Accept, Decline), the call itself (calling,
 * then both parties' media with Mute, Camera off, Hang up and the elapsed time), and a notice of how
 * the last call ended.
 */
import { useEffect, useId, useRef, useState } from "react";

import type { ParleyClient } from "@parley/client";

import { callsOf, type CallController, type CallNotice, type CallState } from "../calls.js";
import { useModal, useStore } from "../hooks.js";
import { nameOf, useUsers } from "../users.js";
import { CameraIcon, HangUpIcon, MicIcon, PhoneIcon, VideoIcon } from "./call-icons.js";
import "./calls.css";

export function CallOverlay({ client }: { client: ParleyClient }) {
  const calls = callsOf(client);
  const { call, notice } = useStore(calls.state);
  const peerId = call?.peerId ?? notice?.peerId;
  const users = useUsers(client, peerId === undefined ? [] : [peerId]);
  const name = peerId === undefined ? "" : nameOf(users[peerId]);
  // A client that goes away (logout) takes its call with it.
  useEffect(() => () => calls.dispose(), [calls]);

  return (
    <>
      {notice && <CallNoticeBar notice={notice} name={name} onDismiss={() => calls.dismiss()} />}
      {call?.phase === "incoming" && <IncomingCall call={call} name={name} calls={calls} />}
      {call && call.phase !== "incoming" && <CallScreen call={call} name={name} calls={calls} />}
    </>
  );
}

function IncomingCall({ call, name, calls }: { call: CallState; name: string; calls: CallController }) {
  const dialog = useModal(true);
  const titleId = useId();
  return (
    <dialog
      ref={dialog}
      className="card modal call-incoming"
      aria-labelledby={titleId}
      data-testid="incoming-call"
      // Escape does not decline: that takes the button.
      onCancel={(e) => e.preventDefault()}
    >
      <p className="call-kind">{call.media === "video" ? "Video call" : "Audio call"}</p>
      <h2 id={titleId}>{name} is calling you</h2>
      <div className="call-controls">
        <button type="button" className="call-decline" onClick={() => calls.decline()}>
          <HangUpIcon /> Decline
        </button>
        <button type="button" className="call-accept" autoFocus onClick={() => calls.accept()}>
          {call.media === "video" ? <VideoIcon /> : <PhoneIcon />} Accept
        </button>
      </div>
    </dialog>
  );
}

function CallScreen({ call, name, calls }: { call: CallState; name: string; calls: CallController }) {
  const dialog = useModal(true);
  const titleId = useId();
  const video = call.media === "video";
  const ringing = call.phase === "starting" || call.phase === "ringing";
  return (
    <dialog
      ref={dialog}
      className={`call-screen ${video ? "call-video" : "call-audio"}`}
      aria-labelledby={titleId}
      data-testid="call-screen"
      data-phase={call.phase}
      data-connection-state={call.connection}
      onCancel={(e) => e.preventDefault()}
    >
      <div className="call-media">
        {video ? (
          <Media stream={call.remote} kind="video" className="call-remote" label={`${name}'s video`} testId="remote-video" />
        ) : (
          <Media stream={call.remote} kind="audio" className="call-remote" label={`${name}'s audio`} testId="remote-audio" />
        )}
        {video && <Media stream={call.local} kind="video" muted className="call-local" label="Your video" testId="local-video" />}
      </div>
      <div className="call-info">
        <h2 id={titleId}>{name}</h2>
        <p className="call-status" aria-live="polite">
          {statusOf(call, name)}
          {call.connectedAt !== null && (
            <>
              {" · "}
              <Elapsed since={call.connectedAt} />
            </>
          )}
        </p>
      </div>
      <div className="call-controls">
        {!ringing && (
          <button type="button" aria-pressed={call.muted} onClick={() => calls.toggleMute()}>
            <MicIcon off={call.muted} /> Mute
          </button>
        )}
        {!ringing && video && (
          <button type="button" aria-pressed={call.cameraOff} onClick={() => calls.toggleCamera()}>
            <CameraIcon off={call.cameraOff} /> Camera off
          </button>
        )}
        <button type="button" className="call-decline" onClick={() => calls.hangUp()}>
          <HangUpIcon /> {ringing ? "Cancel" : "Hang up"}
        </button>
      </div>
    </dialog>
  );
}

/** What the call screen says of the call. */
function statusOf(call: CallState, name: string): string {
  if (call.phase === "starting") return "Starting the call…";
  if (call.phase === "ringing") return `Calling ${name}…`;
  if (call.connection === "connected") return call.media === "video" ? "Video call" : "Audio call";
  if (call.connection === "disconnected") return "Reconnecting…";
  return "Connecting…";
}

interface MediaProps {
  stream: MediaStream | null;
  kind: "video" | "audio";
  muted?: boolean;
  className: string;
  label: string;
  testId: string;
}

/** A stream in a `<video>` or `<audio>` element, playing as soon as it has one. */
function Media({ stream, kind, muted = false, className, label, testId }: MediaProps) {
  const ref = useRef<HTMLVideoElement & HTMLAudioElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || el.srcObject === stream) return;
    el.muted = muted;
    el.srcObject = stream;
    // Autoplay may wait for a gesture; the call's own clicks normally give one.
    if (stream) void el.play().catch(() => undefined);
  }, [stream, muted]);
  if (kind === "audio") return <audio ref={ref} autoPlay className={className} aria-label={label} data-testid={testId} />;
  return <video ref={ref} autoPlay playsInline muted={muted} className={className} aria-label={label} data-testid={testId} />;
}

/** Minutes and seconds since `since`, ticking. */
function Elapsed({ since }: { since: number }) {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return (
    <span role="timer" aria-label="Call duration" data-testid="call-elapsed">
      {duration(Math.max(0, now - since))}
    </span>
  );
}

/** `m:ss`, or `h:mm:ss` from an hour. */
function duration(ms: number): string {
  const total = Math.floor(ms / 1000);
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** What a notice tells the person. */
function noticeText(notice: CallNotice, name: string): string {
  const lasted = notice.durationMs === undefined ? "" : ` (${duration(notice.durationMs)})`;
  switch (notice.kind) {
    case "declined":
      return `${name} declined the call.`;
    case "missed":
      return `Missed call from ${name}.`;
    case "unanswered":
      return `${name} did not answer.`;
    case "busy":
      return `${name} is in another call.`;
    case "ended":
      return `Call with ${name} ended${lasted}.`;
    case "lost":
      return `Call with ${name} ended: the connection was lost${lasted}.`;
    case "media":
      return notice.detail ?? "The microphone or camera could not be started.";
    case "failed":
      return `The call with ${name} could not connect.`;
    case "error":
      return `The call with ${name} failed: ${notice.detail ?? "unknown error"}`;
  }
}

function CallNoticeBar({ notice, name, onDismiss }: { notice: CallNotice; name: string; onDismiss: () => void }) {
  const problem = notice.kind === "media" || notice.kind === "failed" || notice.kind === "error";
  return (
    <div className={`call-notice${problem ? " call-notice-problem" : ""}`} role={problem ? "alert" : "status"} data-testid="call-notice" data-kind={notice.kind}>
      <span>{noticeText(notice, name)}</span>
      <button type="button" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}
