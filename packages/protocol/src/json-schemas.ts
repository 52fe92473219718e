/**
 * The zod schemas of the REST routes as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1), with
 * every named schema of `schemas.ts` and `responses.ts` a component of its own, referenced by
 * `#/components/schemas/<name>`. What JSON Schema cannot say of a refinement is said here, once.
 */
import { z, type core } from "zod";

import * as responseSchemas from "./responses.js";
import * as contractSchemas from "./schemas.js";
import {
  AttachmentIds,
  AttachmentName,
  AvatarUrl,
  MAX_CONTENT_LENGTH,
  MessageContent,
  PostMessageBody,
  UpdateMeBody,
} from "./schemas.js";

/** A JSON Schema, as zod produces it. */
export type JsonSchema = core.JSONSchema.JSONSchema;

/** Which side of a schema to describe: what a client sends (defaults optional), or what it receives. */
export type SchemaSide = "input" | "output";

/** Where the components of an OpenAPI document are referenced from. */
export const COMPONENTS_PREFIX = "#/components/schemas/";

/**
 * What the JSON Schema of a refined schema adds to the base type zod emits, so that the document states
 * the constraint the refinement checks. JSON Schema counts string lengths in code points, as
 * `codePointLength` does. A route schema with a refinement missing here fails the protocol's tests.
 */
export const REFINEMENT_CONSTRAINTS: ReadonlyMap<core.$ZodType, JsonSchema> = new Map<core.$ZodType, JsonSchema>([
  [MessageContent, { maxLength: MAX_CONTENT_LENGTH, description: `Trimmed, then 1 to ${MAX_CONTENT_LENGTH} characters (code points).` }],
  [UpdateMeBody, { anyOf: [{ required: ["displayName"] }, { required: ["avatarUrl"] }] }],
  [
    PostMessageBody,
    {
      description: `\`content\` is trimmed, then at most ${MAX_CONTENT_LENGTH} characters (code points); it may be empty only when \`attachmentIds\` lists an attachment.`,
      allOf: [
        { properties: { content: { type: "string", maxLength: MAX_CONTENT_LENGTH } } },
        {
          anyOf: [
            { required: ["content"], properties: { content: { type: "string", minLength: 1 } } },
            { required: ["attachmentIds"], properties: { attachmentIds: { type: "array", minItems: 1 } } },
          ],
        },
      ],
    },
  ],
  [AttachmentIds, { uniqueItems: true }],
  [AttachmentName, { pattern: "^[^\\u0000-\\u001f\\u007f/\\\\]*$", description: "Trimmed; no control characters, `/` or `\\`." }],
]);

/**
 * Constraints zod checks but leaves out of its JSON Schema, other than refinements: the protocol of an
 * URL (the URL parser lower-cases the scheme, so any case passes).
 */
const UNSTATED_CONSTRAINTS: ReadonlyMap<core.$ZodType, JsonSchema> = new Map<core.$ZodType, JsonSchema>([
  [AvatarUrl, { pattern: "^[Hh][Tt][Tt][Pp][Ss]?:" }],
]);

/** The component name of each named schema: its export name, less a `Schema` suffix (`WireErrorSchema` → `WireError`). */
function namedSchemas(): Map<core.$ZodType, string> {
  const names = new Map<core.$ZodType, string>();
  for (const [name, value] of Object.entries({ ...contractSchemas, ...responseSchemas })) {
    if (value instanceof z.ZodType && !names.has(value)) names.set(value, name.replace(/(?<=.)Schema$/, ""));
  }
  return names;
}

/** One schema to convert, under the name it is looked up by (a component name, or the route's part). */
export interface SchemaRoot {
  schema: z.ZodType;
  /** Used when the schema has no name of its own. */
  fallbackName: string;
}

/** The JSON Schemas of one side: every root's and every named schema's it uses, by name. */
export interface ConvertedSide {
  /** The name of each root, as given to {@link convertSide}. */
  nameOf(schema: core.$ZodType): string;
  /** JSON Schema by name; `$ref`s point into the same map through {@link COMPONENTS_PREFIX}. */
  schemas: Map<string, JsonSchema>;
}

function options(side: SchemaSide, override: (ctx: { zodSchema: core.$ZodTypes; jsonSchema: JsonSchema }) => void): core.ToJSONSchemaParams {
  // No `unrepresentable`: the route schemas hold nothing JSON Schema cannot say (a transform appears on
  // the input side of queries only, where the schema before it is described), and a new one must fail.
  return { target: "draft-2020-12", io: side, override };
}

function addConstraints({ zodSchema, jsonSchema }: { zodSchema: core.$ZodTypes; jsonSchema: JsonSchema }): void {
  const extra = REFINEMENT_CONSTRAINTS.get(zodSchema) ?? UNSTATED_CONSTRAINTS.get(zodSchema);
  if (extra) Object.assign(jsonSchema, extra);
}

/**
 * Converts `roots` for one side. Two passes: the first finds the named schemas the roots use, the second
 * converts the roots with those as components (a registry holding every named schema would also
 * convert those no route uses, on the side where they may not be representable).
 * @throws {Error} when a schema cannot be represented, or two distinct schemas share a name.
 */
export function convertSide(roots: readonly SchemaRoot[], side: SchemaSide): ConvertedSide {
  const names = namedSchemas();
  const rootRegistry = z.registry<{ id: string }>();
  const registered = new Map<core.$ZodType, string>();
  const register = (registry: core.$ZodRegistry<{ id: string }>, schema: core.$ZodType, name: string) => {
    const known = registered.get(schema);
    if (known !== undefined && known !== name) return;
    for (const [other, otherName] of registered) {
      if (otherName === name && other !== schema) throw new Error(`two schemas named ${name}`);
    }
    registered.set(schema, name);
    if (!registry.has(schema)) registry.add(schema, { id: name });
  };
  for (const { schema, fallbackName } of roots) register(rootRegistry, schema, names.get(schema) ?? fallbackName);

  const used = new Set<core.$ZodType>();
  z.toJSONSchema(rootRegistry, options(side, ({ zodSchema }) => void used.add(zodSchema)));

  const registry = z.registry<{ id: string }>();
  for (const [schema, name] of registered) registry.add(schema, { id: name });
  for (const schema of used) {
    const name = names.get(schema);
    if (name !== undefined) register(registry, schema, name);
  }
  const { schemas } = z.toJSONSchema(registry, { ...options(side, addConstraints), uri: (id) => `${COMPONENTS_PREFIX}${id}` });
  if ("__shared" in schemas) throw new Error("unnamed schemas shared between components (a cycle?)");

  const converted = new Map<string, JsonSchema>();
  for (const [name, json] of Object.entries(schemas)) {
    const { $schema: _dialect, $id: _id, ...rest } = json;
    converted.set(name, rest);
  }
  return {
    schemas: converted,
    nameOf(schema) {
      const name = registered.get(schema);
      if (name === undefined) throw new Error("not a root of this conversion");
      return name;
    },
  };
}

/** `json` with every `$ref` to a component named in `renamed` pointing at its new name. */
export function renameRefs(json: JsonSchema, renamed: ReadonlyMap<string, string>): JsonSchema {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== "object") return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      const target = key === "$ref" && typeof inner === "string" && inner.startsWith(COMPONENTS_PREFIX) ? renamed.get(inner.slice(COMPONENTS_PREFIX.length)) : undefined;
      out[key] = target === undefined ? walk(inner) : `${COMPONENTS_PREFIX}${target}`;
    }
    return out;
  };
  return walk(json) as JsonSchema;
}

/** The names of the components `json` references directly. */
export function referencedNames(json: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(json)) for (const inner of json) referencedNames(inner, into);
  else if (json !== null && typeof json === "object") {
    for (const [key, inner] of Object.entries(json)) {
      if (key === "$ref" && typeof inner === "string" && inner.startsWith(COMPONENTS_PREFIX)) into.add(inner.slice(COMPONENTS_PREFIX.length));
      else referencedNames(inner, into);
    }
  }
  return into;
}
