import { describe, expect, expectTypeOf, it } from "vitest";

import { ERROR_CODES } from "./errors.js";
import { routes, type RouteInput, type RouteName, type RouteOutput } from "./routes.js";
import type { ConversationView, Message } from "./schemas.js";

const entries = Object.entries(routes) as [RouteName, (typeof routes)[RouteName]][];

describe("the route table", () => {
  it("has every route once, by method and path", () => {
    const keys = entries.map(([, spec]) => `${spec.method} ${spec.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(entries.length).toBe(27);
  });

  it("names exactly the path parameters of each path in its params schema", () => {
    for (const [name, spec] of entries) {
      const inPath = [...spec.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]).sort();
      const inSchema = "params" in spec ? Object.keys(spec.params.shape).sort() : [];
      expect(inSchema, name).toEqual(inPath);
    }
  });

  it("answers success statuses only, and known error codes", () => {
    for (const [name, spec] of entries) {
      // Successes, and the redirect of a download.
      for (const status of Object.keys(spec.responses).map(Number)) expect((status >= 200 && status < 300) || status === 302, `${name} ${status}`).toBe(true);
      for (const code of spec.errors) expect(ERROR_CODES, name).toContain(code);
      // Every route behind a token can be refused for it.
      if (spec.auth) expect(spec.errors, name).toContain("TOKEN_EXPIRED");
    }
  });

  it("infers inputs and outputs from the schemas", () => {
    expectTypeOf<RouteInput<"conversations.list">>().toEqualTypeOf<{}>();
    expectTypeOf<RouteInput<"messages.history">>().toEqualTypeOf<{
      params: { id: string };
      query?: { before?: number | undefined; limit?: number | undefined };
    }>();
    expectTypeOf<RouteOutput<"messages.history">>().toEqualTypeOf<{ messages: Message[]; nextBefore: number | null }>();
    expectTypeOf<RouteOutput<"conversations.list">>().toEqualTypeOf<{ conversations: ConversationView[] }>();
    expectTypeOf<RouteOutput<"account.delete">>().toEqualTypeOf<undefined>();
  });
});
