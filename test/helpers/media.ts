/**
 * Small, valid media files written by code, for the tests of what reads them (the worker's durations,
 * the web app's players): a PCM WAV of silence, and a WebM of Opus frames laid out as a browser's
 * MediaRecorder writes it.
 */

/** A PCM WAV of `ms` milliseconds of silence. */
export function wav(ms: number, sampleRate = 8000): Uint8Array {
  const samples = Math.round((sampleRate * ms) / 1000);
  const data = samples * 2;
  const buffer = Buffer.alloc(44 + data);
  buffer.write("RIFF", 0);
  buffer.writeUInt32LE(36 + data, 4);
  buffer.write("WAVEfmt ", 8);
  buffer.writeUInt32LE(16, 16);
  buffer.writeUInt16LE(1, 20); // PCM
  buffer.writeUInt16LE(1, 22); // mono
  buffer.writeUInt32LE(sampleRate, 24);
  buffer.writeUInt32LE(sampleRate * 2, 28);
  buffer.writeUInt16LE(2, 32);
  buffer.writeUInt16LE(16, 34);
  buffer.write("data", 36);
  buffer.writeUInt32LE(data, 40);
  return new Uint8Array(buffer);
}

/** The "unknown" EBML size: what a streaming writer puts on the Segment and each Cluster. */
const UNKNOWN_SIZE = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

function ebmlSize(n: number): number[] {
  if (n < 0x7f) return [0x80 | n];
  if (n < 0x3fff) return [0x40 | (n >> 8), n & 0xff];
  return [0x10 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

function element(id: number[], body: number[], unknownSize = false): number[] {
  return [...id, ...(unknownSize ? UNKNOWN_SIZE : ebmlSize(body.length)), ...body];
}

const uint = (n: number): number[] => {
  const out: number[] = [];
  do {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  return out;
};
const ascii = (s: string): number[] => [...new TextEncoder().encode(s)];
const float64 = (x: number): number[] => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return [...b];
};

/** Options of {@link recordedWebm}. */
export interface RecordedWebmOptions {
  /** Milliseconds per frame. @default 20 (Opus) */
  frameMs?: number;
  /** Frames per Cluster. @default 50 */
  framesPerCluster?: number;
  /** Write a Duration in the header, as a file that was finalized has. @default false (MediaRecorder) */
  duration?: boolean;
}

/**
 * A WebM with one Opus track of `ms` milliseconds, shaped like MediaRecorder's output: Segment and
 * Clusters of unknown size, no Duration in the header (unless asked), frames as SimpleBlocks. The frames
 * are Opus silence; nothing here decodes them.
 */
export function recordedWebm(ms: number, options: RecordedWebmOptions = {}): Uint8Array {
  const { frameMs = 20, framesPerCluster = 50, duration = false } = options;
  const header = element(
    [0x1a, 0x45, 0xdf, 0xa3],
    [
      ...element([0x42, 0x86], [1]),
      ...element([0x42, 0xf7], [1]),
      ...element([0x42, 0xf2], [4]),
      ...element([0x42, 0xf3], [8]),
      ...element([0x42, 0x82], ascii("webm")),
      ...element([0x42, 0x87], [4]),
      ...element([0x42, 0x85], [2]),
    ],
  );
  const info = element(
    [0x15, 0x49, 0xa9, 0x66],
    [
      ...element([0x2a, 0xd7, 0xb1], uint(1_000_000)),
      ...element([0x4d, 0x80], ascii("Chrome")),
      ...element([0x57, 0x41], ascii("Chrome")),
      ...(duration ? element([0x44, 0x89], float64(ms)) : []),
    ],
  );
  const opusHead = [...ascii("OpusHead"), 1, 1, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0];
  const track = element(
    [0xae],
    [
      ...element([0xd7], [1]),
      ...element([0x73, 0xc5], [1]),
      ...element([0x83], [2]),
      ...element([0x86], ascii("A_OPUS")),
      ...element([0x63, 0xa2], opusHead),
      ...element([0xe1], [...element([0xb5], float64(48_000)), ...element([0x9f], [1])]),
    ],
  );
  const clusters: number[] = [];
  const frames = Math.round(ms / frameMs);
  for (let first = 0; first < frames; first += framesPerCluster) {
    const clusterStart = first * frameMs;
    const blocks: number[] = [];
    for (let f = first; f < Math.min(frames, first + framesPerCluster); f++) {
      const relative = f * frameMs - clusterStart;
      blocks.push(...element([0xa3], [0x81, (relative >> 8) & 0xff, relative & 0xff, 0x80, 0xf8, 0xff, 0xfe]));
    }
    clusters.push(...element([0x1f, 0x43, 0xb6, 0x75], [...element([0xe7], uint(clusterStart)), ...blocks], true));
  }
  return new Uint8Array([...header, ...element([0x18, 0x53, 0x80, 0x67], [...info, ...element([0x16, 0x54, 0xae, 0x6b], track), ...clusters], true)]);
}
