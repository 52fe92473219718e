/**
 * Where each REST route is: method, path and whether it needs a token. No schemas and no zod, so that
 * a browser client that only calls the API (the SDK's REST client) does not bundle the validators;
 * `routes` (routes.ts) adds the schemas, the documentation and the error codes to the same names.
 */

/** Method, path and authentication of one route. */
export interface Endpoint {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** Express syntax, with `:name` for each path parameter: `/api/conversations/:id/messages`. */
  path: `/api/${string}`;
  /** Whether the route needs `Authorization: Bearer <access token>`. */
  auth: boolean;
}

/** Every REST route's {@link Endpoint}, by the route's name (`<resource>.<verb>`). */
export const endpoints = {
  "auth.register": { method: "POST", path: "/api/auth/register", auth: false },
  "auth.login": { method: "POST", path: "/api/auth/login", auth: false },
  "auth.refresh": { method: "POST", path: "/api/auth/refresh", auth: false },
  "auth.logout": { method: "POST", path: "/api/auth/logout", auth: true },
  "auth.logoutAll": { method: "POST", path: "/api/auth/logout-all", auth: true },
  "sessions.list": { method: "GET", path: "/api/auth/sessions", auth: true },
  "sessions.revoke": { method: "DELETE", path: "/api/auth/sessions/:id", auth: true },
  "users.me": { method: "GET", path: "/api/users/me", auth: true },
  "users.search": { method: "GET", path: "/api/users", auth: true },
  "users.get": { method: "GET", path: "/api/users/:id", auth: true },
  "account.changePassword": { method: "POST", path: "/api/users/me/password", auth: true },
  "account.update": { method: "PATCH", path: "/api/users/me", auth: true },
  "account.delete": { method: "DELETE", path: "/api/users/me", auth: true },
  "account.export": { method: "GET", path: "/api/users/me/export", auth: true },
  "blocks.list": { method: "GET", path: "/api/users/me/blocks", auth: true },
  "blocks.add": { method: "POST", path: "/api/users/me/blocks", auth: true },
  "blocks.remove": { method: "DELETE", path: "/api/users/me/blocks/:userId", auth: true },
  "conversations.create": { method: "POST", path: "/api/conversations", auth: true },
  "conversations.list": { method: "GET", path: "/api/conversations", auth: true },
  "conversations.get": { method: "GET", path: "/api/conversations/:id", auth: true },
  "members.add": { method: "POST", path: "/api/conversations/:id/members", auth: true },
  "members.remove": { method: "DELETE", path: "/api/conversations/:id/members/:userId", auth: true },
  "messages.history": { method: "GET", path: "/api/conversations/:id/messages", auth: true },
  "messages.post": { method: "POST", path: "/api/conversations/:id/messages", auth: true },
  "attachments.create": { method: "POST", path: "/api/conversations/:id/attachments", auth: true },
  "attachments.get": { method: "GET", path: "/api/attachments/:id", auth: true },
  "calls.iceServers": { method: "GET", path: "/api/calls/ice-servers", auth: true },
} as const satisfies Record<string, Endpoint>;

/** The name of a REST route. */
export type EndpointName = keyof typeof endpoints;
