import { Schema, type Connection, type Model, type Types } from "mongoose";

import type { PublicUser } from "@parley/protocol";

/** A user document. `usernameLower` makes usernames unique and searchable regardless of case. */
export interface UserDoc {
  _id: Types.ObjectId;
  username: string;
  usernameLower: string;
  displayName: string;
  /** An http(s) URL of the user's picture; null for none. */
  avatarUrl: string | null;
  /** scrypt hash (see `hashPassword`); empty once the account is deleted. */
  passwordHash: string;
  /** When the user's last socket disconnected; null while never seen. */
  lastSeen: Date | null;
  /**
   * When the account was deleted; null while it exists. A deleted account keeps its id (its messages
   * name it as sender) but no username, password or profile.
   */
  deletedAt: Date | null;
  /** The users this user blocks, and since when. */
  blocks: BlockEntry[];
  /** The users who block this user. */
  blockedBy: Types.ObjectId[];
  /** Bumped on every change of `blocks` or `blockedBy`; orders the Redis block cache against stale loads. */
  blocksVersion: number;
  /**
   * The user's session documents (active, and revoked or expired ones not yet pruned), so that listing
   * and revoking them are reads by `_id`.
   */
  sessionIds: Types.ObjectId[];
  /** Bytes the user's attachments take in the object store, against `ATTACHMENT_QUOTA_BYTES`. */
  attachmentBytes: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One user blocked by another. */
export interface BlockEntry {
  userId: Types.ObjectId;
  createdAt: Date;
}

const userSchema = new Schema<UserDoc>(
  {
    username: { type: String, required: true },
    usernameLower: { type: String, required: true, unique: true },
    displayName: { type: String, required: true },
    avatarUrl: { type: String, default: null },
    passwordHash: { type: String, default: "" },
    lastSeen: { type: Date, default: null },
    deletedAt: { type: Date, default: null },
    blocks: {
      type: [new Schema<BlockEntry>({ userId: { type: Schema.Types.ObjectId, required: true }, createdAt: { type: Date, required: true } }, { _id: false })],
      default: [],
    },
    blockedBy: { type: [Schema.Types.ObjectId], default: [] },
    blocksVersion: { type: Number, required: true, default: 0 },
    sessionIds: { type: [Schema.Types.ObjectId], default: [] },
    attachmentBytes: { type: Number, default: 0 },
  },
  { timestamps: true, versionKey: false },
);

export function userModel(connection: Connection): Model<UserDoc> {
  return connection.model<UserDoc>("User", userSchema, "users");
}

/** The fields {@link toPublicUser} reads: project reads of other users to these. */
export const PUBLIC_USER_FIELDS = { username: 1, displayName: 1, avatarUrl: 1, createdAt: 1, deletedAt: 1 } as const;

/** The part of a user document {@link toPublicUser} reads. */
export type PublicUserDoc = Pick<UserDoc, "_id" | "username" | "displayName" | "createdAt"> &
  Partial<Pick<UserDoc, "avatarUrl" | "deletedAt">>;

/** A user as other users see it: never the password hash; a deleted account as "Deleted user". */
export function toPublicUser(doc: PublicUserDoc): PublicUser {
  if (doc.deletedAt) {
    return { id: doc._id.toHexString(), username: "", displayName: "Deleted user", avatarUrl: null, createdAt: doc.createdAt.toISOString(), deleted: true };
  }
  return {
    id: doc._id.toHexString(),
    username: doc.username,
    displayName: doc.displayName,
    avatarUrl: doc.avatarUrl ?? null,
    createdAt: doc.createdAt.toISOString(),
  };
}
