/**
 * The duration of a WebM (or Matroska) file, for the files music-metadata cannot time: what a browser's
 * MediaRecorder writes. A recorder streams its output, so the Segment and each Cluster have an unknown
 * size and the header has no Duration; the duration is then where the last frame ends, from the
 * clusters' and blocks' timestamps.
 */

/** EBML ids of the elements the walk enters (their children follow their header) or reads. */
const SEGMENT = 0x18538067;
const INFO = 0x1549a966;
const CLUSTER = 0x1f43b675;
const BLOCK_GROUP = 0xa0;
const TIMESTAMP_SCALE = 0x2ad7b1;
const DURATION = 0x4489;
const CLUSTER_TIMESTAMP = 0xe7;
const SIMPLE_BLOCK = 0xa3;
const BLOCK = 0xa1;

const ENTERED: ReadonlySet<number> = new Set([SEGMENT, INFO, CLUSTER, BLOCK_GROUP]);

/** Nanoseconds per timestamp tick when the file does not say (Matroska's default). */
const DEFAULT_TIMESTAMP_SCALE = 1_000_000;

/** An EBML variable-length integer: its value (undefined when all its bits are ones: "unknown") and length. */
function readVint(bytes: Uint8Array, at: number, keepMarker: boolean): { value: number | undefined; length: number } | undefined {
  const first = bytes[at];
  if (first === undefined || first === 0) return undefined;
  const length = Math.clz32(first) - 23;
  if (at + length > bytes.length) return undefined;
  const marker = 0x80 >> (length - 1);
  let value = keepMarker ? first : first & (marker - 1);
  let allOnes = value === marker - 1;
  for (let i = 1; i < length; i++) {
    const byte = bytes[at + i] ?? 0;
    value = value * 256 + byte;
    allOnes &&= byte === 0xff;
  }
  return { value: !keepMarker && allOnes ? undefined : value, length };
}

function readUint(bytes: Uint8Array, at: number, size: number): number {
  let value = 0;
  for (let i = 0; i < size; i++) value = value * 256 + (bytes[at + i] ?? 0);
  return value;
}

function readFloat(bytes: Uint8Array, at: number, size: number): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, size);
  if (size === 4) return view.getFloat32(0);
  if (size === 8) return view.getFloat64(0);
  return undefined;
}

/**
 * The duration of the WebM `bytes` in milliseconds: the header's Duration when it has one, else the end
 * of the last frame (its start plus the spacing of the frames before it on its track); undefined when
 * the file holds no frames or cannot be walked.
 */
export function webmDurationMs(bytes: Uint8Array): number | undefined {
  let scale = DEFAULT_TIMESTAMP_SCALE;
  let declared: number | undefined;
  let clusterTime = 0;
  /** Per track: the start of its last frame and of the one before, in ticks. */
  const tracks = new Map<number, { last: number; previous: number | undefined }>();
  let at = 0;
  while (at < bytes.length) {
    const id = readVint(bytes, at, true);
    if (!id) break;
    const size = readVint(bytes, at + id.length, false);
    if (!size) break;
    const data = at + id.length + size.length;
    if (ENTERED.has(id.value ?? 0)) {
      at = data;
      continue;
    }
    // Only the entered elements may have an unknown size; the end of the file may cut the last one.
    if (size.value === undefined || data + size.value > bytes.length) break;
    if (id.value === TIMESTAMP_SCALE) scale = readUint(bytes, data, size.value);
    else if (id.value === DURATION) declared = readFloat(bytes, data, size.value);
    else if (id.value === CLUSTER_TIMESTAMP) clusterTime = readUint(bytes, data, size.value);
    else if (id.value === SIMPLE_BLOCK || id.value === BLOCK) {
      const track = readVint(bytes, data, false);
      if (track?.value !== undefined && size.value >= track.length + 2) {
        const view = new DataView(bytes.buffer, bytes.byteOffset + data + track.length, 2);
        const start = clusterTime + view.getInt16(0);
        const seen = tracks.get(track.value);
        tracks.set(track.value, { last: start, previous: seen?.last });
      }
    }
    at = data + size.value;
  }
  const msPerTick = scale / 1_000_000;
  if (declared !== undefined && Number.isFinite(declared) && declared > 0) return Math.round(declared * msPerTick);
  let end: number | undefined;
  for (const { last, previous } of tracks.values()) {
    const trackEnd = last + (previous !== undefined && previous < last ? last - previous : 0);
    end = Math.max(end ?? 0, trackEnd);
  }
  return end === undefined || end <= 0 ? undefined : Math.round(end * msPerTick);
}
