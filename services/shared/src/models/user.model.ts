import { Schema, type Connection, type Model, type Types } from "mongoose";

import type { PublicUser } from "../schemas.js";

/** A user document. `usernameLower` makes usernames unique and searchable regardless of case. */
export interface UserDoc {
  _id: Types.ObjectId;
  username: string;
  usernameLower: string;
  displayName: string;
  passwordHash: string;
  /** When the user's last socket disconnected; null while never seen. */
  lastSeen: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const userSchema = new Schema<UserDoc>(
  {
    username: { type: String, required: true },
    usernameLower: { type: String, required: true, unique: true },
    displayName: { type: String, required: true },
    passwordHash: { type: String, required: true },
    lastSeen: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false },
);

export function userModel(connection: Connection): Model<UserDoc> {
  return connection.model<UserDoc>("User", userSchema, "users");
}

/** A user as other users see it: never the password hash. */
export function toPublicUser(doc: Pick<UserDoc, "_id" | "username" | "displayName" | "createdAt">): PublicUser {
  return {
    id: doc._id.toHexString(),
    username: doc.username,
    displayName: doc.displayName,
    createdAt: doc.createdAt.toISOString(),
  };
}
