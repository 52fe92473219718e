/** The audio and video call buttons of a direct conversation's header. */
import type { ParleyClient } from "@parley/client";

import { callsOf } from "../calls.js";
import { useStore } from "../hooks.js";
import { PhoneIcon, VideoIcon } from "./call-icons.js";
import "./calls.css";

export interface CallButtonsProps {
  client: ParleyClient;
  /** The other member of the conversation. */
  peerId: string;
}

export function CallButtons({ client, peerId }: CallButtonsProps) {
  const calls = callsOf(client);
  const { call } = useStore(calls.state);
  return (
    <span className="call-buttons">
      <button type="button" aria-label="Audio call" title="Audio call" disabled={call !== null} onClick={() => calls.start(peerId, "audio")}>
        <PhoneIcon />
      </button>
      <button type="button" aria-label="Video call" title="Video call" disabled={call !== null} onClick={() => calls.start(peerId, "video")}>
        <VideoIcon />
      </button>
    </span>
  );
}
