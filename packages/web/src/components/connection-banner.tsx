/** Where the connection is, when it is not simply up: connecting, reconnecting, offline, back online. */
import { useEffect, useRef, useState } from "react";

import type { ParleyClient } from "@parley/client";

import { describeError } from "../errors.js";
import { useOnline, useStore } from "../hooks.js";
import { auth } from "../session.js";

/** How long "Back online" stays. */
const BACK_ONLINE_MS = 3000;

export function ConnectionBanner({ client }: { client: ParleyClient }) {
  const { state, error } = useStore(client.connection);
  const online = useOnline();
  const pending = useStore(client.outbox).length;
  const [backOnline, setBackOnline] = useState(false);
  const wasDown = useRef(false);
  const down = !online || state === "reconnecting" || (state === "connecting" && error !== undefined);

  useEffect(() => {
    if (down) {
      wasDown.current = true;
      setBackOnline(false);
      return;
    }
    if (state !== "ready" || !wasDown.current) return;
    wasDown.current = false;
    setBackOnline(true);
    const timer = setTimeout(() => setBackOnline(false), BACK_ONLINE_MS);
    return () => clearTimeout(timer);
  }, [down, state]);

  const waiting = pending > 0 ? ` ${pending === 1 ? "1 message waits" : `${pending} messages wait`} to be sent.` : "";
  let kind: "offline" | "reconnecting" | "failed" | "online" | undefined;
  let text = "";
  if (state === "failed") {
    kind = "failed";
    text = `Disconnected: ${describeError(error)}`;
  } else if (!online) {
    kind = "offline";
    text = `You are offline. Messages you write are sent when you are back.${waiting}`;
  } else if (down) {
    kind = "reconnecting";
    text = `Reconnecting…${waiting}`;
  } else if (state === "connecting" || state === "idle") {
    kind = "reconnecting";
    text = "Connecting…";
  } else if (backOnline) {
    kind = "online";
    text = "Back online.";
  }

  return (
    <div className={`banner${kind ? ` ${kind}` : ""}`} role="status" data-testid="connection-banner" data-kind={kind}>
      {text}
      {kind === "failed" && (
        <button type="button" onClick={() => void auth.logout().catch(() => undefined)}>
          Log in again
        </button>
      )}
    </div>
  );
}
