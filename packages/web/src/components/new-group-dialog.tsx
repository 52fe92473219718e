/** A new group: its name and its first members, found by username. The creator is its admin. */
import { useId, useState } from "react";

import type { ParleyClient } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { describeError } from "../errors.js";
import { useModal } from "../hooks.js";
import { nameOf } from "../users.js";
import { MemberPicker } from "./member-picker.js";

export interface NewGroupDialogProps {
  client: ParleyClient;
  self: PublicUser;
  open: boolean;
  onClose: () => void;
  onCreated: (conversationId: string) => void;
}

export function NewGroupDialog({ client, self, open, onClose, onCreated }: NewGroupDialogProps) {
  const dialog = useModal(open);
  const titleId = useId();
  const nameId = useId();
  const [name, setName] = useState("");
  const [members, setMembers] = useState<readonly PublicUser[]>([]);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  function reset() {
    setName("");
    setMembers([]);
    setError(undefined);
  }

  async function create() {
    setBusy(true);
    setError(undefined);
    try {
      const { conversation } = await client.rest.call("conversations.create", {
        body: { type: "group", name: name.trim(), memberIds: members.map((m) => m.id) },
      });
      reset();
      onClose();
      onCreated(conversation.id);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <dialog ref={dialog} className="card modal" aria-labelledby={titleId} onClose={onClose}>
      <h2 id={titleId}>New group</h2>
      <form
        className="group-form"
        onSubmit={(event) => {
          event.preventDefault();
          void create();
        }}
      >
        <label htmlFor={nameId}>Group name</label>
        <input id={nameId} autoComplete="off" maxLength={100} required value={name} onChange={(e) => setName(e.target.value)} autoFocus />
        <MemberPicker client={client} exclude={[self.id, ...members.map((m) => m.id)]} onPick={(user) => setMembers((all) => [...all, user])} />
        <ul className="chosen" aria-label="Members">
          {members.map((user) => (
            <li key={user.id}>
              {nameOf(user)}
              <button type="button" aria-label={`Remove ${nameOf(user)}`} onClick={() => setMembers((all) => all.filter((m) => m.id !== user.id))}>
                ×
              </button>
            </li>
          ))}
        </ul>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-buttons">
          <button type="button" onClick={() => (reset(), onClose())}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || !name.trim() || members.length === 0}>
            Create group
          </button>
        </div>
      </form>
    </dialog>
  );
}
