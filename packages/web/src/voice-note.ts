/**
 * Voice notes: what the recorder records as, how a note is named, and how the timeline tells one from
 * any other audio file. A voice note is an audio attachment named `voice-note-YYYY-MM-DD-HHMM.<ext>`:
 * the app names the notes it records so, and shows every audio file so named as a voice note.
 */

/** The longest voice note; the recording stops and is sent when it reaches it. */
export const VOICE_NOTE_MAX_MS = 5 * 60_000;

/** What MediaRecorder is asked to record as, best first: Opus in WebM (Chromium, Firefox), in Ogg, else AAC in MP4 (Safari). */
export const RECORDING_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"] as const;

/** The first of {@link RECORDING_TYPES} the browser records, or undefined to let it choose. */
export function recordingType(isTypeSupported: (type: string) => boolean): string | undefined {
  return RECORDING_TYPES.find((type) => isTypeSupported(type));
}

/** A MIME type without its parameters: `audio/webm;codecs=opus` → `audio/webm`. */
export function bareType(type: string): string {
  return (type.split(";")[0] ?? "").trim().toLowerCase();
}

const EXTENSIONS: Readonly<Record<string, string>> = { "audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a", "video/webm": "webm", "video/mp4": "m4a" };

const two = (n: number) => String(n).padStart(2, "0");

/** The name of a voice note recorded as `type` at `at` (local time): `voice-note-2026-12-02-1742.webm`. */
export function voiceNoteName(at: Date, type: string): string {
  const stamp = `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}-${two(at.getHours())}${two(at.getMinutes())}`;
  return `voice-note-${stamp}.${EXTENSIONS[bareType(type)] ?? "webm"}`;
}

const VOICE_NOTE_NAME = /^voice-note-\d{4}-\d{2}-\d{2}-\d{4}\.(?:webm|ogg|m4a)$/;

/** Whether an attachment is a voice note: audio, named as the recorder names notes. */
export function isVoiceNote(attachment: { kind: string; name: string }): boolean {
  return attachment.kind === "audio" && VOICE_NOTE_NAME.test(attachment.name);
}

/** A length of time as a player shows it: `0:07`, `4:05`, `1:02:03` (whole seconds, rounded down). */
export function clockDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  return hours > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${minutes}:${two(seconds)}`;
}
