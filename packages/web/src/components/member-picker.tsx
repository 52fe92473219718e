/** Find users by the start of their username and pick them: for a new group, or to add to one. */
import { useId, useState } from "react";

import type { ParleyClient } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { nameOf, useUserSearch } from "../users.js";

export interface MemberPickerProps {
  client: ParleyClient;
  /** Who is not offered: this user, the members already chosen or in the group. */
  exclude: readonly string[];
  onPick: (user: PublicUser) => void;
  /** @default "Find people to add" */
  label?: string;
}

export function MemberPicker({ client, exclude, onPick, label = "Find people to add" }: MemberPickerProps) {
  const [query, setQuery] = useState("");
  const inputId = useId();
  const { results, error } = useUserSearch(client, query, exclude);
  return (
    <div className="member-picker">
      <label htmlFor={inputId}>{label}</label>
      <input id={inputId} type="search" autoComplete="off" placeholder="Username…" value={query} onChange={(e) => setQuery(e.target.value)} />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {results && (
        <ul className="results" aria-label="People found">
          {results.length === 0 && <li className="placeholder">Nobody more by that name.</li>}
          {results.map((user) => (
            <li key={user.id}>
              <button type="button" aria-label={`Add ${nameOf(user)} (@${user.username})`} onClick={() => onPick(user)}>
                <span className="row-title">{nameOf(user)}</span> <span className="username">@{user.username}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
