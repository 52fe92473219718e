/**
 * The OpenAPI document against an OpenAPI 3.1 validator and Ajv (JSON Schema 2020-12, strict), and
 * against the route table it is generated from: every route, parameter, body and answer, the named
 * components, and the constraints that JSON Schema only states because the generator adds them.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { z, type core } from "zod";

import { describeErrors, documentSchemas } from "../../../test/helpers/openapi.js";
import { ERROR_STATUS } from "./errors.js";
import { REFINEMENT_CONSTRAINTS, type JsonSchema } from "./json-schemas.js";
import { openApiDocument, openApiPath } from "./openapi.js";
import { routes, type RouteSpec } from "./routes.js";
import { IdParams, MAX_CONTENT_LENGTH, SyncPayload } from "./schemas.js";
import { PROTOCOL_VERSION } from "./version.js";

const document = openApiDocument({ serverUrl: "https://chat.example.com", version: "9.8.7" });
const schemas = documentSchemas(document);
const entries = Object.entries(routes) as [string, RouteSpec][];
const component = (name: string) => document.components.schemas[name] as JsonSchema;
const refTo = (name: string) => ({ $ref: `#/components/schemas/${name}` });

describe("the OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document, and every schema in it compiles as JSON Schema 2020-12", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document) as unknown as Record<string, unknown>);
    expect(result.errors, JSON.stringify(result.errors, null, 2)).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(() => schemas.compileAll()).not.toThrow();
  });

  it("names the protocol and server versions, the server, and the bearer scheme", () => {
    expect(document.info.version).toBe(`${PROTOCOL_VERSION} (server 9.8.7)`);
    expect(openApiDocument().info.version).toBe(PROTOCOL_VERSION);
    expect(openApiDocument().servers).toBeUndefined();
    expect(document.servers).toEqual([{ url: "https://chat.example.com" }]);
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    expect(document.tags.map((t) => t.name)).toEqual([...new Set(entries.map(([, spec]) => spec.tag))]);
  });

  it("has one operation per route, at its path, with its name, texts, tag and security", () => {
    const operations = Object.values(document.paths).flatMap((methods) => Object.values(methods));
    expect(operations.length).toBe(entries.length);
    for (const [name, spec] of entries) {
      const { path, method, operation } = schemas.operation(name);
      expect(path, name).toBe(openApiPath(spec.path));
      expect(path, name).not.toContain(":");
      expect(method, name).toBe(spec.method.toLowerCase());
      expect(operation.summary, name).toBe(spec.summary);
      expect(operation.description, name).toBe(spec.description);
      expect(operation.tags, name).toEqual([spec.tag]);
      expect(operation.security, name).toEqual(spec.auth ? [{ bearer: [] }] : undefined);
    }
    expect(openApiPath("/api/conversations/:id/members/:userId")).toBe("/api/conversations/{id}/members/{userId}");
  });

  it("has each route's path parameters and query fields, required unless optional or defaulted", () => {
    for (const [name, spec] of entries) {
      const { operation } = schemas.operation(name);
      const expected = [
        ...Object.keys(spec.params?.shape ?? {}).map((field) => ({ name: field, in: "path", required: true })),
        ...Object.entries(spec.query?.shape ?? {}).map(([field, schema]) => ({ name: field, in: "query", required: !(schema as z.ZodType).safeParse(undefined).success })),
      ];
      expect(operation.parameters?.map(({ name, in: where, required }) => ({ name, in: where, required })) ?? [], name).toEqual(expected);
      for (const parameter of operation.parameters ?? []) expect(parameter.schema, `${name} ${parameter.name}`).not.toEqual({});
    }
    const history = schemas.operation("messages.history").operation.parameters!;
    expect(history.find((p) => p.name === "id")!.schema).toEqual(refTo("ObjectIdString"));
    // Query strings carry text; the document says what it must spell: an integer in range.
    expect(history.find((p) => p.name === "limit")).toMatchObject({ required: false, schema: { type: "integer", minimum: 1, maximum: 100, default: 50 } });
    expect(history.find((p) => p.name === "before")!.description).toContain("nextBefore");
    const search = schemas.operation("users.search").operation.parameters!;
    expect(search.find((p) => p.name === "q")).toMatchObject({ required: true, schema: { type: "string", minLength: 1, maxLength: 32 } });
    expect(schemas.operation("account.delete").operation.parameters).toEqual([
      expect.objectContaining({ name: "erase", required: false, schema: { type: "string", enum: ["true", "false"], default: "false" } }),
    ]);
  });

  it("has each route's body and success answers as named components, and no body for null answers", () => {
    for (const [name, spec] of entries) {
      const { operation } = schemas.operation(name);
      expect(operation.requestBody !== undefined, name).toBe(spec.body !== undefined);
      if (operation.requestBody) expect(operation.requestBody.content["application/json"].schema.$ref, name).toMatch(/^#\/components\/schemas\/\w+$/);
      for (const [status, schema] of Object.entries(spec.responses)) {
        const response = operation.responses[status];
        expect(response, `${name} ${status}`).toBeDefined();
        if (schema === null) expect(response!.content, `${name} ${status}`).toBeUndefined();
        else expect(response!.content!["application/json"].schema.$ref, `${name} ${status}`).toMatch(/^#\/components\/schemas\/\w+$/);
      }
    }
    expect(schemas.operation("auth.register").operation.requestBody!.content["application/json"].schema).toEqual(refTo("RegisterBody"));
    expect(schemas.operation("messages.history").operation.responses["200"]!.content!["application/json"].schema).toEqual(refTo("HistoryPage"));
  });

  it("has one error answer per status of the route's codes, an ErrorBody narrowed to those codes, and a default", () => {
    for (const [name, spec] of entries) {
      const { operation } = schemas.operation(name);
      const statuses = [...new Set(spec.errors.map((code) => ERROR_STATUS[code]))].sort();
      const errorKeys = Object.keys(operation.responses).filter((key) => key !== "default" && Number(key) >= 400);
      expect(errorKeys.sort(), name).toEqual(statuses.map(String));
      for (const status of statuses) {
        const codes = spec.errors.filter((code) => ERROR_STATUS[code] === status);
        for (const code of codes) {
          expect(schemas.checkResponse(name, status, { error: { code, message: "m" } }), `${name} ${code}`).toEqual([]);
          expect(operation.responses[String(status)]!.description, name).toContain(`\`${code}\``);
        }
        const other = spec.errors.find((code) => ERROR_STATUS[code] !== status) ?? "INTERNAL";
        expect(schemas.checkResponse(name, status, { error: { code: other, message: "m" } }), `${name} ${status} ${other}`).not.toEqual([]);
      }
      expect(schemas.checkResponse(name, 500, { error: { code: "INTERNAL", message: "Internal error" } }), name).toEqual([]);
    }
    expect(schemas.checkResponse("users.get", 400, { error: { code: "VALIDATION", message: "m", issues: [{ path: "id", message: "bad" }] } })).toEqual([]);
    expect(schemas.checkResponse("users.get", 400, { error: { code: "VALIDATION", message: "m", issues: [{ path: 1 }] } })).not.toEqual([]);
  });

  it("shares the recurring schemas as components, referenced, and keeps only those referenced", () => {
    for (const name of ["Message", "ConversationView", "Conversation", "PublicUser", "WireError", "ErrorBody", "FieldIssue", "SessionView", "Block", "AuthSession"]) {
      expect(document.components.schemas, name).toHaveProperty(name);
    }
    expect(component("HistoryPage").properties!.messages).toEqual({ type: "array", items: refTo("Message") });
    expect(component("ErrorBody").properties!.error).toEqual(refTo("WireError"));
    expect(component("AuthSession").properties!.user).toEqual(refTo("PublicUser"));
    const text = JSON.stringify(document);
    for (const name of Object.keys(document.components.schemas)) expect(text, name).toContain(`"#/components/schemas/${name}"`);
    // Parameter objects are parameters, not components.
    expect(document.components.schemas).not.toHaveProperty("IdParams");
    expect(text).not.toContain("$defs");
  });

  it("states the real constraints of requests, refinements included, as zod checks them", () => {
    expect(component("Username")).toMatchObject({ type: "string", pattern: "^[A-Za-z0-9_.-]{3,32}$" });
    expect(component("Password")).toMatchObject({ type: "string", minLength: 8, maxLength: 256 });
    expect(component("MessageType")).toMatchObject({ enum: ["text", "image", "file"] });
    expect(component("PostMessageBody").allOf).toContainEqual({ properties: { content: { type: "string", maxLength: MAX_CONTENT_LENGTH } } });
    expect(component("AttachmentIds")).toMatchObject({ type: "array", maxItems: 10, uniqueItems: true });
    // Answers list every field they have; requests may carry more (zod drops unknown keys).
    expect(component("Message").additionalProperties).toBe(false);
    expect(component("RegisterBody").additionalProperties).toBeUndefined();

    const emoji = "😀";
    const agree: [string, unknown, boolean][] = [
      ["messages.post", { clientMsgId: "c", content: emoji.repeat(MAX_CONTENT_LENGTH) }, true],
      ["messages.post", { clientMsgId: "c", content: emoji.repeat(MAX_CONTENT_LENGTH + 1) }, false],
      ["messages.post", { clientMsgId: "c", content: "" }, false],
      ["messages.post", { clientMsgId: "c", content: "hi", type: "video" }, false],
      ["messages.post", { clientMsgId: "x".repeat(65), content: "hi" }, false],
      ["messages.post", { clientMsgId: "c", attachmentIds: ["0123456789abcdef01234567"] }, true],
      ["messages.post", { clientMsgId: "c", content: "", attachmentIds: ["0123456789abcdef01234567"] }, true],
      ["messages.post", { clientMsgId: "c", attachmentIds: [] }, false],
      ["messages.post", { clientMsgId: "c", attachmentIds: ["0123456789abcdef01234567", "0123456789abcdef01234567"] }, false],
      ["messages.post", { clientMsgId: "c", attachmentIds: Array.from({ length: 11 }, (_, i) => `0123456789abcdef012345${String(i).padStart(2, "0")}`) }, false],
      ["attachments.create", { name: "photo.jpg", size: 1000, contentType: "image/jpeg" }, true],
      ["attachments.create", { name: "../etc/passwd", size: 1000, contentType: "text/plain" }, false],
      ["attachments.create", { name: "a\u0007b", size: 1000, contentType: "text/plain" }, false],
      ["attachments.create", { name: "a.txt", size: 0, contentType: "text/plain" }, false],
      ["attachments.create", { name: "a.txt", size: 10, contentType: "text/plain; charset=utf-8" }, false],
      ["account.update", {}, false],
      ["account.update", { avatarUrl: null }, true],
      ["account.update", { avatarUrl: "https://example.com/a.png" }, true],
      ["account.update", { avatarUrl: "ftp://example.com/a.png" }, false],
      ["account.update", { displayName: "x".repeat(65) }, false],
      ["auth.register", { username: "ab", password: "long enough" }, false],
      ["auth.register", { username: "alice", password: "short" }, false],
      ["auth.register", { username: "alice", password: "long enough", device: "laptop" }, true],
      ["conversations.create", { type: "direct", userId: "0123456789abcdef01234567" }, true],
      ["conversations.create", { type: "direct", userId: "0123456789ABCDEF01234567" }, false],
      ["conversations.create", { type: "group", name: "g", memberIds: [] }, false],
      ["members.add", { userIds: Array.from({ length: 1000 }, () => "0123456789abcdef01234567") }, false],
    ];
    for (const [name, body, valid] of agree) {
      const spec = routes[name as keyof typeof routes] as RouteSpec;
      const label = `${name} ${JSON.stringify(body).slice(0, 80)}`;
      expect(spec.body!.safeParse(body).success, `zod: ${label}`).toBe(valid);
      const errors = schemas.checkRequest(name, body);
      expect(errors.length === 0, `JSON Schema: ${label}\n${describeErrors(errors)}`).toBe(valid);
    }
  });

  it("says, for every refinement in a route's schemas, what JSON Schema cannot say of it", () => {
    const refined = new Set<core.$ZodType>();
    const hasCustomCheck = (schema: core.$ZodType) =>
      ((schema._zod.def as { checks?: core.$ZodCheck[] }).checks ?? []).some((check) => check._zod.def.check === "custom");
    for (const [, spec] of entries) {
      const parts = [spec.params, spec.query, spec.body, ...Object.values(spec.responses)].filter((s): s is z.ZodType => s != null);
      for (const schema of parts) {
        for (const io of ["input", "output"] as const) {
          // The output side of a query is its parsed value, which no document describes.
          if (io === "output" && schema === spec.query) continue;
          z.toJSONSchema(schema, { io, override: ({ zodSchema }) => void (hasCustomCheck(zodSchema) && refined.add(zodSchema)) });
        }
      }
    }
    expect(refined.size).toBeGreaterThan(0);
    for (const schema of refined) expect(REFINEMENT_CONSTRAINTS.has(schema), JSON.stringify(z.toJSONSchema(schema, { io: "input" }))).toBe(true);
  });

  it("gives a schema that a default makes differ between requests and answers two components", () => {
    const table = {
      "sync.echo": { method: "POST", path: "/api/sync/:id", summary: "s", tag: "T", auth: false, params: IdParams, body: SyncPayload, responses: { 200: SyncPayload }, errors: [] },
    } satisfies Record<string, RouteSpec>;
    const doc = openApiDocument({}, table);
    expect(doc.paths["/api/sync/{id}"]!.post!.requestBody!.content["application/json"].schema).toEqual(refTo("SyncPayloadInput"));
    expect(doc.paths["/api/sync/{id}"]!.post!.responses["200"]!.content!["application/json"].schema).toEqual(refTo("SyncPayload"));
    expect(doc.components.schemas.SyncPayload!.required).toContain("limit");
    expect(doc.components.schemas.SyncPayloadInput!.required).not.toContain("limit");
  });

  it("refuses what it cannot describe: a transformed answer, a path without its parameter", () => {
    const base = { method: "GET", path: "/api/x", summary: "s", tag: "T", auth: false, errors: [] } as const;
    expect(() => openApiDocument({}, { "x.get": { ...base, responses: { 200: z.object({ n: z.string().transform(Number) }) } } })).toThrow(/transform/i);
    expect(() => openApiDocument({}, { "x.get": { ...base, path: "/api/x/:id", responses: { 204: null } } })).toThrow(/path parameters|parameters \[id\]/);
  });
});
