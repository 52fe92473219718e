/**
 * Every REST route of the API, once: method, path, what it takes (path parameters, query, body), what
 * it answers on success and which error codes it can answer. The API registers its routes from this
 * table and parses their input with its schemas; the SDK's REST client and the OpenAPI document are
 * derived from it, so none of them can drift from the others.
 */
import { z } from "zod";

import { endpoints, type Endpoint, type EndpointName } from "./endpoints.js";
import type { ErrorCode } from "./errors.js";
import {
  AccountExport,
  AttachmentCreated,
  AttachmentLink,
  BlockAnswer,
  BlockList,
  ConversationAnswer,
  ConversationList,
  ConversationViewAnswer,
  HistoryPage,
  IceServerList,
  MessageAnswer,
  SessionList,
  UserAnswer,
  UserList,
} from "./responses.js";
import {
  AddMembersBody,
  AttachmentQuery,
  AuthSession,
  BlockBody,
  ChangePasswordBody,
  CreateAttachmentBody,
  CreateConversationBody,
  DeleteMeBody,
  DeleteMeQuery,
  HistoryQuery,
  IdParams,
  LoginBody,
  ObjectIdString,
  PostMessageBody,
  RefreshBody,
  RegisterBody,
  UpdateMeBody,
  UserSearchQuery,
} from "./schemas.js";

/** One REST route: its {@link Endpoint}, its schemas and its documentation. */
export interface RouteSpec extends Endpoint {
  /** One line, for the reference. */
  summary: string;
  /** More, when one line is not enough. */
  description?: string;
  /** The group the route belongs to in the reference. */
  tag: string;
  /** The path parameters; every `:name` of `path` is one of its keys. */
  params?: z.ZodObject;
  /** The query string. */
  query?: z.ZodObject;
  /** The JSON body. */
  body?: z.ZodType;
  /** Success status → schema of the body answered with it; null for none (`204`). */
  responses: { readonly [status: number]: z.ZodType | null };
  /** The error codes the route can answer, for the reference. Bodies are `{ error: WireError }`. */
  errors: readonly ErrorCode[];
}

/** Path parameters of `DELETE /api/conversations/:id/members/:userId`. */
export const MemberParams = IdParams.extend({ userId: ObjectIdString });

/** Path parameters of `DELETE /api/users/me/blocks/:userId`: the same `{ userId }` as a block's body. */
export const BlockParams = BlockBody;

/**
 * What every route behind `Authorization: Bearer` can answer before it runs: no, a bad, an expired or a
 * revoked token, a deleted user, and `UNAVAILABLE` when the revocation check cannot be made.
 */
const TOKEN_ERRORS = ["AUTH_REQUIRED", "INVALID_TOKEN", "TOKEN_EXPIRED", "SESSION_REVOKED", "USER_NOT_FOUND", "UNAVAILABLE"] as const;

/** The REST routes by name. Names are `<resource>.<verb>`; use them with the SDK's `RestClient.call`. */
export const routes = {
  "auth.register": {
    ...endpoints["auth.register"],
    summary: "Create an account and open its first session",
    tag: "Auth",
    body: RegisterBody,
    responses: { 201: AuthSession },
    errors: ["VALIDATION", "USERNAME_TAKEN", "RATE_LIMITED", "UNAVAILABLE"],
  },
  "auth.login": {
    ...endpoints["auth.login"],
    summary: "Open a session with a username and password",
    tag: "Auth",
    body: LoginBody,
    responses: { 200: AuthSession },
    errors: ["VALIDATION", "INVALID_CREDENTIALS", "RATE_LIMITED", "UNAVAILABLE"],
  },
  "auth.refresh": {
    ...endpoints["auth.refresh"],
    summary: "Exchange a refresh token for new tokens of the same session",
    description:
      "Spends the refresh token presented: store the new one. Presenting a spent token again revokes the session, except within the reuse grace, which answers the same new tokens.",
    tag: "Auth",
    body: RefreshBody,
    responses: { 200: AuthSession },
    errors: ["VALIDATION", "INVALID_TOKEN", "TOKEN_EXPIRED", "SESSION_REVOKED", "USER_NOT_FOUND", "RATE_LIMITED", "UNAVAILABLE"],
  },
  "auth.logout": {
    ...endpoints["auth.logout"],
    summary: "Revoke the session of the access token",
    tag: "Auth",
    responses: { 204: null },
    errors: [...TOKEN_ERRORS],
  },
  "auth.logoutAll": {
    ...endpoints["auth.logoutAll"],
    summary: "Revoke every session of the caller, this one included",
    tag: "Auth",
    responses: { 204: null },
    errors: [...TOKEN_ERRORS],
  },
  "sessions.list": {
    ...endpoints["sessions.list"],
    summary: "The caller's active sessions, most recently used first",
    tag: "Sessions",
    responses: { 200: SessionList },
    errors: [...TOKEN_ERRORS],
  },
  "sessions.revoke": {
    ...endpoints["sessions.revoke"],
    summary: "Revoke one session of the caller",
    tag: "Sessions",
    params: IdParams,
    responses: { 204: null },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "NOT_FOUND"],
  },
  "users.me": {
    ...endpoints["users.me"],
    summary: "The caller",
    tag: "Users",
    responses: { 200: UserAnswer },
    errors: [...TOKEN_ERRORS],
  },
  "users.search": {
    ...endpoints["users.search"],
    summary: "Users whose username starts with `q`, case-insensitive, sorted",
    description: "Never lists deleted accounts.",
    tag: "Users",
    query: UserSearchQuery,
    responses: { 200: UserList },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "RATE_LIMITED"],
  },
  "users.get": {
    ...endpoints["users.get"],
    summary: "One user",
    description: 'A deleted account is answered as `{ username: "", displayName: "Deleted user", deleted: true }`.',
    tag: "Users",
    params: IdParams,
    responses: { 200: UserAnswer },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "NOT_FOUND"],
  },
  "account.changePassword": {
    ...endpoints["account.changePassword"],
    summary: "Change the caller's password; every other session is revoked",
    tag: "Account",
    body: ChangePasswordBody,
    responses: { 204: null },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "INVALID_CREDENTIALS", "CONFLICT", "RATE_LIMITED"],
  },
  "account.update": {
    ...endpoints["account.update"],
    summary: "Change the caller's display name or avatar (`avatarUrl: null` removes it)",
    tag: "Account",
    body: UpdateMeBody,
    responses: { 200: UserAnswer },
    errors: ["VALIDATION", ...TOKEN_ERRORS],
  },
  "account.delete": {
    ...endpoints["account.delete"],
    summary: "Delete the caller's account",
    description:
      "Every session is revoked and the user leaves every conversation. With `erase=true` the content of every message the user sent is deleted too, asynchronously: the answer is then `202`.",
    tag: "Account",
    query: DeleteMeQuery,
    body: DeleteMeBody,
    responses: { 202: null, 204: null },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "INVALID_CREDENTIALS", "RATE_LIMITED"],
  },
  "account.export": {
    ...endpoints["account.export"],
    summary: "Everything parley stores about the caller, as a JSON download",
    tag: "Account",
    responses: { 200: AccountExport },
    errors: [...TOKEN_ERRORS, "RATE_LIMITED"],
  },
  "blocks.list": {
    ...endpoints["blocks.list"],
    summary: "Whom the caller blocks, oldest first",
    tag: "Blocks",
    responses: { 200: BlockList },
    errors: [...TOKEN_ERRORS],
  },
  "blocks.add": {
    ...endpoints["blocks.add"],
    summary: "Block a user; blocking again answers the same block",
    tag: "Blocks",
    body: BlockBody,
    responses: { 200: BlockAnswer },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "NOT_FOUND", "CONFLICT"],
  },
  "blocks.remove": {
    ...endpoints["blocks.remove"],
    summary: "Unblock a user; succeeds also when that user is not blocked",
    tag: "Blocks",
    params: BlockParams,
    responses: { 204: null },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "CONFLICT"],
  },
  "conversations.create": {
    ...endpoints["conversations.create"],
    summary: "Create a direct conversation (idempotent per pair) or a group",
    description: "`201` when created, `200` with the existing conversation when the pair already had one.",
    tag: "Conversations",
    body: CreateConversationBody,
    responses: { 200: ConversationAnswer, 201: ConversationAnswer },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "FORBIDDEN", "NOT_FOUND", "RATE_LIMITED"],
  },
  "conversations.list": {
    ...endpoints["conversations.list"],
    summary: "The caller's conversations, most recent activity first, with unread counts and pointers",
    tag: "Conversations",
    responses: { 200: ConversationList },
    errors: [...TOKEN_ERRORS],
  },
  "conversations.get": {
    ...endpoints["conversations.get"],
    summary: "One conversation of the caller, with unread count and pointers",
    tag: "Conversations",
    params: IdParams,
    responses: { 200: ConversationViewAnswer },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "FORBIDDEN", "NOT_FOUND"],
  },
  "members.add": {
    ...endpoints["members.add"],
    summary: "Add users to a group (admins only)",
    tag: "Conversations",
    params: IdParams,
    body: AddMembersBody,
    responses: { 200: ConversationAnswer },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "FORBIDDEN", "NOT_FOUND", "CONFLICT", "RATE_LIMITED"],
  },
  "members.remove": {
    ...endpoints["members.remove"],
    summary: "Remove a member from a group (admins), or leave it (oneself)",
    tag: "Conversations",
    params: MemberParams,
    responses: { 200: ConversationAnswer },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "FORBIDDEN", "NOT_FOUND", "CONFLICT"],
  },
  "messages.history": {
    ...endpoints["messages.history"],
    summary: "A page of history, newest first by page, ascending within it",
    description: "Pass `nextBefore` as the next `before`; `nextBefore: null` means nothing is older.",
    tag: "Messages",
    params: IdParams,
    query: HistoryQuery,
    responses: { 200: HistoryPage },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "FORBIDDEN", "NOT_FOUND"],
  },
  "messages.post": {
    ...endpoints["messages.post"],
    summary: "Send a message, as `message:send` does",
    description: "`201` for a new message, `200` with the original one for a repeated `clientMsgId`.",
    tag: "Messages",
    params: IdParams,
    body: PostMessageBody,
    responses: { 200: MessageAnswer, 201: MessageAnswer },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "FORBIDDEN", "NOT_FOUND", "RATE_LIMITED"],
  },
  "attachments.create": {
    ...endpoints["attachments.create"],
    summary: "Start an attachment: a presigned upload of exactly that size and type, straight to object storage",
    description:
      "Members only. Upload the bytes with `upload` (no `Authorization` header: the URL is signed), then list the attachment's id in `attachmentIds` of a send. " +
      "The size and type limits, the uploads per minute and the bytes per user are the server's settings; an attachment that no message names is deleted after a day.",
    tag: "Attachments",
    params: IdParams,
    body: CreateAttachmentBody,
    responses: { 201: AttachmentCreated },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "FORBIDDEN", "NOT_FOUND", "RATE_LIMITED", "QUOTA_EXCEEDED"],
  },
  "attachments.get": {
    ...endpoints["attachments.get"],
    summary: "Download an attachment (or its thumbnail): a redirect to a short-lived presigned URL",
    description:
      "The uploader, and the members of its conversation once a message carries it; anyone else gets `404`. " +
      "`redirect=false` answers the URL as JSON instead, for elements that cannot send a token.",
    tag: "Attachments",
    params: IdParams,
    query: AttachmentQuery,
    responses: { 200: AttachmentLink, 302: null },
    errors: ["VALIDATION", ...TOKEN_ERRORS, "NOT_FOUND"],
  },
  "calls.iceServers": {
    ...endpoints["calls.iceServers"],
    summary: "The STUN and TURN servers for the caller's calls, with short-lived TURN credentials",
    description:
      "Pass `iceServers` to `RTCPeerConnection`. TURN credentials are the caller's own and expire at `expiresAt` (the server's `TURN_CREDENTIAL_TTL_SECONDS`): ask again before a call that starts later. " +
      "An empty list means host candidates only.",
    tag: "Calls",
    responses: { 200: IceServerList },
    errors: [...TOKEN_ERRORS],
  },
} as const satisfies Record<EndpointName, RouteSpec>;

/** The table's type. */
export type Routes = typeof routes;

/** The name of a REST route: `"conversations.list"`, `"messages.post"`, … */
export type RouteName = keyof Routes;

type InputPart<S, K extends "params" | "query" | "body"> = S extends { readonly [P in K]: infer T extends z.ZodType }
  ? {} extends z.input<T>
    ? { [P in K]?: z.input<T> }
    : { [P in K]: z.input<T> }
  : {};

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * What a call of route `N` takes: `{ params, query, body }`, each present only when the route has it,
 * and optional when all of its fields are.
 */
export type RouteInput<N extends RouteName> = Simplify<InputPart<Routes[N], "params"> & InputPart<Routes[N], "query"> & InputPart<Routes[N], "body">>;

type ResponseBody<R> = R extends z.ZodType ? z.output<R> : undefined;

/** What a successful call of route `N` answers: the union of its success bodies (`undefined` for none). */
export type RouteOutput<N extends RouteName> = {
  [S in keyof Routes[N]["responses"]]: ResponseBody<Routes[N]["responses"][S]>;
}[keyof Routes[N]["responses"]];

/** The success statuses of route `N`. */
export type RouteStatus<N extends RouteName> = keyof Routes[N]["responses"] & number;
