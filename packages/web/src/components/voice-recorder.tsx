/**
 * The composer's voice-note recorder: "Record voice note" asks for the microphone and records with
 * MediaRecorder, showing the time recorded; Send stops and hands the note over as a file, Cancel throws
 * it away. The microphone is released however the recording ends (sent, cancelled, the limit reached,
 * the conversation left), and a refusal or a missing microphone is said in an alert.
 */
import { useEffect, useRef, useState, type KeyboardEvent } from "react";

import { VOICE_NOTE_MAX_MS, bareType, clockDuration, recordingType, voiceNoteName } from "../voice-note.js";
import "./voice-recorder.css";

export interface VoiceRecorderProps {
  /** A finished note, named `voice-note-….webm` (or .ogg, .m4a) and typed without parameters. */
  onRecorded: (file: File) => void;
}

type Phase = { name: "idle" } | { name: "starting" } | { name: "recording"; startedAt: number };

/** One recording: its stream (to release), its recorder, and whether it ends in a send. */
interface Recording {
  stream: MediaStream;
  recorder: MediaRecorder;
  startedAt: Date;
  send: boolean;
  limit?: ReturnType<typeof setTimeout>;
}

const IDLE: Phase = { name: "idle" };

function release(stream: MediaStream): void {
  for (const track of stream.getTracks()) track.stop();
}

/** What to tell the user when the microphone could not be had. */
function microphoneProblem(err: unknown): string {
  const name = err instanceof DOMException ? err.name : "";
  if (name === "NotAllowedError" || name === "SecurityError") {
    return "Microphone access is blocked. Allow this site to use the microphone in the browser's settings to record a voice note.";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") return "No microphone was found. Connect one to record a voice note.";
  if (name === "NotReadableError" || name === "AbortError") return "The microphone could not be started: another application may be using it.";
  return "The microphone could not be started.";
}

const UNSUPPORTED = "This browser cannot record voice notes on this page (the microphone needs a secure connection: https).";

export function VoiceRecorder({ onRecorded }: VoiceRecorderProps) {
  const [phase, setPhase] = useState<Phase>(IDLE);
  const [now, setNow] = useState(0);
  const [problem, setProblem] = useState<string>();
  const recording = useRef<Recording | null>(null);
  /** Bumped by every start and end: a microphone granted to an attempt given up since is released at once. */
  const attempt = useRef(0);
  const recordButton = useRef<HTMLButtonElement>(null);
  const refocus = useRef(false);
  const deliver = useRef(onRecorded);
  useEffect(() => {
    deliver.current = onRecorded;
  }, [onRecorded]);

  /** Ends the recording, if any: sent when `send`, else discarded. The microphone is released either way. */
  function finish(send: boolean) {
    attempt.current++;
    setPhase(IDLE);
    const current = recording.current;
    recording.current = null;
    if (!current) return;
    clearTimeout(current.limit);
    current.send = send;
    // stop() queues the last data; the tracks can go at once.
    if (current.recorder.state !== "inactive") current.recorder.stop();
    release(current.stream);
  }

  // Leaving the conversation discards a recording under way.
  useEffect(() => () => finish(false), []);

  useEffect(() => {
    if (phase.name !== "recording") {
      if (phase.name === "idle" && refocus.current) {
        refocus.current = false;
        recordButton.current?.focus();
      }
      return;
    }
    setNow(performance.now());
    const timer = setInterval(() => setNow(performance.now()), 250);
    return () => clearInterval(timer);
  }, [phase]);

  async function start() {
    setProblem(undefined);
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
      setProblem(UNSUPPORTED);
      return;
    }
    const mine = ++attempt.current;
    setPhase({ name: "starting" });
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      if (mine === attempt.current) {
        setPhase(IDLE);
        setProblem(microphoneProblem(err));
      }
      return;
    }
    if (mine !== attempt.current) {
      release(stream);
      return;
    }
    let recorder: MediaRecorder;
    try {
      const mimeType = recordingType((type) => MediaRecorder.isTypeSupported(type));
      recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
    } catch {
      release(stream);
      setPhase(IDLE);
      setProblem(UNSUPPORTED);
      return;
    }
    const current: Recording = { stream, recorder, startedAt: new Date(), send: false };
    const chunks: Blob[] = [];
    recorder.ondataavailable = (event) => {
      if (event.data.size > 0) chunks.push(event.data);
    };
    recorder.onstop = () => {
      release(stream);
      // Stopped by itself: the microphone went away (unplugged, or its permission revoked).
      if (recording.current === current) {
        finish(false);
        setProblem("The microphone stopped, so the voice note was not sent.");
        return;
      }
      if (!current.send) return;
      const type = bareType(recorder.mimeType || chunks[0]?.type || "audio/webm");
      if (chunks.length === 0) {
        setProblem("Nothing was recorded. Try again.");
        return;
      }
      deliver.current(new File(chunks, voiceNoteName(current.startedAt, type), { type }));
    };
    recorder.onerror = () => {
      if (recording.current === current) finish(false);
      setProblem("The recording failed. Try again.");
    };
    recording.current = current;
    recorder.start(1000);
    current.limit = setTimeout(() => {
      if (recording.current === current) finish(true);
    }, VOICE_NOTE_MAX_MS);
    setPhase({ name: "recording", startedAt: performance.now() });
  }

  function end(send: boolean) {
    refocus.current = true;
    finish(send);
  }

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (event.key !== "Escape") return;
    event.preventDefault();
    end(false);
  }

  return (
    <>
      {problem && (
        <div className="voice-problem" role="alert">
          <span>{problem}</span>
          <button type="button" aria-label="Dismiss" onClick={() => setProblem(undefined)}>
            ×
          </button>
        </div>
      )}
      {phase.name === "recording" ? (
        <div className="voice-recorder" role="group" aria-label="Voice note" onKeyDown={onKeyDown}>
          <span className="recording-dot" aria-hidden="true" />
          <span className="recording-label">Recording</span>
          <span className="recording-time">
            <span role="timer" aria-label="Time recorded">
              {clockDuration(Math.max(0, now - phase.startedAt))}
            </span>
            <span className="recording-limit"> / {clockDuration(VOICE_NOTE_MAX_MS)}</span>
          </span>
          <button type="button" aria-label="Cancel voice note" onClick={() => end(false)}>
            Cancel
          </button>
          <button type="button" className="primary" aria-label="Send voice note" autoFocus onClick={() => end(true)}>
            Send
          </button>
        </div>
      ) : (
        <button
          ref={recordButton}
          type="button"
          className="record"
          aria-label="Record voice note"
          title="Record voice note"
          disabled={phase.name === "starting"}
          onClick={() => void start()}
        >
          <MicIcon />
        </button>
      )}
    </>
  );
}

/** A microphone, hidden from assistive technology (its button is named). */
function MicIcon() {
  return (
    <svg width={20} height={20} viewBox="0 0 20 20" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round">
      <rect x="7" y="2.5" width="6" height="10" rx="3" />
      <path d="M4.5 9.5a5.5 5.5 0 0011 0M10 15v2.5M7 17.5h6" />
    </svg>
  );
}
