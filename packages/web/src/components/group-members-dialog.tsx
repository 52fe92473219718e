/** A group's members: admins add and remove them; anyone can leave. */
import { useId, useState } from "react";

import type { ConversationView, ParleyClient } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { describeError } from "../errors.js";
import { useModal } from "../hooks.js";
import { nameOf, useUsers } from "../users.js";
import { MemberPicker } from "./member-picker.js";

export interface GroupMembersDialogProps {
  client: ParleyClient;
  self: PublicUser;
  view: ConversationView;
  open: boolean;
  onClose: () => void;
  /** This user left the group. */
  onLeft: () => void;
}

export function GroupMembersDialog({ client, self, view, open, onClose, onLeft }: GroupMembersDialogProps) {
  const dialog = useModal(open);
  const titleId = useId();
  const users = useUsers(client, view.members);
  const [error, setError] = useState<string>();
  const admin = view.admins.includes(self.id);
  const params = { id: view.id };

  async function run(action: () => Promise<unknown>): Promise<boolean> {
    setError(undefined);
    try {
      await action();
      return true;
    } catch (err) {
      setError(describeError(err));
      return false;
    }
  }

  async function leave() {
    if (await run(() => client.rest.call("members.remove", { params: { ...params, userId: self.id } }))) {
      onClose();
      onLeft();
    }
  }

  return (
    <dialog ref={dialog} className="card modal" aria-labelledby={titleId} onClose={onClose}>
      <h2 id={titleId}>Members of {view.name ?? "the group"}</h2>
      <ul className="member-list" aria-label="Members">
        {view.members.map((id) => {
          const name = id === self.id ? `${nameOf(users[id])} (you)` : nameOf(users[id]);
          return (
            <li key={id}>
              <span className="row-title">{name}</span>
              {view.admins.includes(id) && <span className="tag">admin</span>}
              {admin && id !== self.id && (
                <button
                  type="button"
                  aria-label={`Remove ${nameOf(users[id])} from the group`}
                  onClick={() => void run(() => client.rest.call("members.remove", { params: { ...params, userId: id } }))}
                >
                  Remove
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {admin && (
        <MemberPicker
          client={client}
          exclude={view.members}
          onPick={(user) => void run(() => client.rest.call("members.add", { params, body: { userIds: [user.id] } }))}
        />
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="dialog-buttons">
        <button type="button" className="danger" onClick={() => void leave()}>
          Leave group
        </button>
        <button type="button" className="primary" onClick={onClose} autoFocus>
          Close
        </button>
      </div>
    </dialog>
  );
}
