/** About this tab: the protocol versions, the gateway node it is connected to, and the session. */
import { useId } from "react";

import type { ParleyClient } from "@parley/client";
import { PROTOCOL_VERSION, type PublicUser } from "@parley/protocol";

import { useModal, useStore } from "../hooks.js";

export interface AboutPanelProps {
  client: ParleyClient;
  self: PublicUser;
  open: boolean;
  onClose: () => void;
}

export function AboutPanel({ client, self, open, onClose }: AboutPanelProps) {
  const dialog = useModal(open);
  const titleId = useId();
  const { state, node, serverProtocol, sessionId } = useStore(client.connection);

  return (
    <dialog ref={dialog} className="about card modal" aria-labelledby={titleId} onClose={onClose}>
      <h2 id={titleId}>About parley</h2>
      <dl>
        <dt>Protocol (this app)</dt>
        <dd data-testid="about-protocol">{PROTOCOL_VERSION}</dd>
        <dt>Protocol (server)</dt>
        <dd data-testid="about-server-protocol">{serverProtocol ?? "—"}</dd>
        <dt>Gateway node</dt>
        <dd data-testid="about-node">{node ?? "not connected"}</dd>
        <dt>Connection</dt>
        <dd data-testid="about-state">{state}</dd>
        <dt>Signed in as</dt>
        <dd>@{self.username}</dd>
        <dt>Session</dt>
        <dd className="mono">{sessionId ?? "—"}</dd>
      </dl>
      <form method="dialog">
        <button type="submit" className="primary" autoFocus>
          Close
        </button>
      </form>
    </dialog>
  );
}
