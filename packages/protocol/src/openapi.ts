/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table (`routes.ts`) and its zod
 * schemas: no schema is written twice. Pure and browser-safe, like the rest of the package.
 */
import type { z } from "zod";

import { ERROR_STATUS, type ErrorCode } from "./errors.js";
import { COMPONENTS_PREFIX, convertSide, referencedNames, renameRefs, type ConvertedSide, type JsonSchema, type SchemaRoot } from "./json-schemas.js";
import { ErrorBody } from "./responses.js";
import { routes, type RouteSpec } from "./routes.js";
import { PROTOCOL_VERSION } from "./version.js";

export type { JsonSchema } from "./json-schemas.js";

/** A parameter of an operation: a path parameter or a query field. */
export interface OpenApiParameter {
  name: string;
  in: "path" | "query";
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

/** A JSON body, of a request or an answer. */
export interface OpenApiJsonContent {
  "application/json": { schema: JsonSchema };
}

/** One answer of an operation. */
export interface OpenApiResponse {
  description: string;
  content?: OpenApiJsonContent;
}

/** One operation: a route of the table. */
export interface OpenApiOperation {
  /** The route's name in the table: `conversations.list`. */
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: OpenApiParameter[];
  requestBody?: { required: true; content: OpenApiJsonContent };
  /** By status (`"200"`), and `default` for failures no route lists (`INTERNAL`, a body over the limit). */
  responses: Record<string, OpenApiResponse>;
  security?: { bearer: [] }[];
}

/** The OpenAPI 3.1 document {@link openApiDocument} produces. */
export interface OpenApiDocument {
  openapi: "3.1.1";
  info: { title: string; version: string; description: string; license: { name: string; identifier: string } };
  servers?: { url: string }[];
  tags: { name: string }[];
  /** By path (`/api/conversations/{id}`), then by lower-case method. */
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: { bearer: { type: "http"; scheme: "bearer"; bearerFormat: "JWT"; description: string } };
  };
}

/** Options of {@link openApiDocument}. */
export interface OpenApiOptions {
  /**
   * The origin clients reach the API at (`PUBLIC_URL`), as the document's one server.
   * @default none: paths are relative to wherever the document was loaded from
   */
  serverUrl?: string;
  /**
   * The version of the server that serves the document, shown after the protocol version in
   * `info.version`: `1.0 (server 0.1.0)`.
   * @default none: the protocol version alone
   */
  version?: string;
}

const REASONS: Readonly<Record<number, string>> = { 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 302: "Found: `Location` is the URL to follow" };

const DESCRIPTION =
  "The REST API of parley. Every route under `Authorization: Bearer` takes the access token that " +
  "`/api/auth/register`, `/api/auth/login` and `/api/auth/refresh` answer. Every failure answers " +
  "`{ error: { code, message } }` with a code from a fixed list (`WireError`); each operation lists the codes " +
  "it can answer, by status.";

/** The roots of both sides: every route's parameters, query and body (input), its answers (output). */
function rootsOf(table: Readonly<Record<string, RouteSpec>>): { input: SchemaRoot[]; output: SchemaRoot[] } {
  const input: SchemaRoot[] = [];
  const output: SchemaRoot[] = [{ schema: ErrorBody, fallbackName: "ErrorBody" }];
  for (const [name, spec] of Object.entries(table)) {
    for (const part of ["params", "query", "body"] as const) {
      const schema = spec[part];
      if (schema) input.push({ schema, fallbackName: `${name}.${part}` });
    }
    for (const [status, schema] of Object.entries(spec.responses)) {
      if (schema) output.push({ schema, fallbackName: `${name}.${status}` });
    }
  }
  return { input, output };
}

/**
 * Both sides' schemas in one set of components. A name whose schema differs between the sides (a
 * default makes a field optional in requests only) keeps the answer's shape, and requests get
 * `<name>Input`, again and again until the references that moved change nothing more.
 */
function mergeSides(input: ConvertedSide, output: ConvertedSide): { components: Map<string, JsonSchema>; inputName: (name: string) => string } {
  const renamed = new Map<string, string>();
  for (;;) {
    let changed = false;
    for (const [name, json] of input.schemas) {
      const answer = output.schemas.get(name);
      if (answer !== undefined && !renamed.has(name) && JSON.stringify(renameRefs(json, renamed)) !== JSON.stringify(answer)) {
        renamed.set(name, `${name}Input`);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const components = new Map(output.schemas);
  for (const [name, json] of input.schemas) components.set(renamed.get(name) ?? name, renameRefs(json, renamed));
  return { components, inputName: (name) => renamed.get(name) ?? name };
}

const ref = (name: string): JsonSchema => ({ $ref: `${COMPONENTS_PREFIX}${name}` });
const jsonContent = (schema: JsonSchema): OpenApiJsonContent => ({ "application/json": { schema } });

/** The path and query parameters of a route, from the properties of its (input-side) object schemas. */
function parametersOf(name: string, spec: RouteSpec, schemaOf: (schema: z.ZodType) => JsonSchema): OpenApiParameter[] {
  const parameters: OpenApiParameter[] = [];
  const pathNames = [...spec.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  for (const [where, schema] of [["path", spec.params], ["query", spec.query]] as const) {
    if (!schema) continue;
    const json = schemaOf(schema);
    const required = new Set(json.required ?? []);
    for (const [field, property] of Object.entries(json.properties ?? {})) {
      if (typeof property !== "object") throw new Error(`${name}: ${where} parameter ${field} has no schema`);
      const { description, ...rest } = property;
      parameters.push({
        name: field,
        in: where,
        required: where === "path" || required.has(field),
        ...(typeof description === "string" && { description }),
        schema: rest,
      });
    }
  }
  const declared = parameters.filter((p) => p.in === "path").map((p) => p.name);
  if (declared.join() !== pathNames.join()) throw new Error(`${name}: path ${spec.path} has parameters [${pathNames}], its schema [${declared}]`);
  return parameters;
}

/** One answer per HTTP status of the route's error codes, its body an `ErrorBody` narrowed to those codes. */
function errorResponses(codes: readonly ErrorCode[]): Record<string, OpenApiResponse> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, OpenApiResponse> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: list.map((code) => `\`${code}\``).join(", "),
      content: jsonContent({
        allOf: [ref("ErrorBody"), { type: "object", properties: { error: { type: "object", properties: { code: { enum: list } } } } }],
      }),
    };
  }
  return responses;
}

/** `/api/conversations/:id` → `/api/conversations/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, "{$1}");
}

/**
 * The OpenAPI 3.1 document of every route of `table` (by default the API's {@link routes}): paths with
 * their parameters, bodies (input side of the schemas) and answers (output side), the error answers of
 * each route by status, the bearer scheme, and every named schema of the protocol a route uses as a
 * component.
 * @throws {Error} when a route's schemas cannot be represented in JSON Schema, or its path and path
 * parameters disagree.
 */
export function openApiDocument(options: OpenApiOptions = {}, table: Readonly<Record<string, RouteSpec>> = routes): OpenApiDocument {
  const roots = rootsOf(table);
  const input = convertSide(roots.input, "input");
  const output = convertSide(roots.output, "output");
  const { components, inputName } = mergeSides(input, output);
  const schemaOf = (schema: z.ZodType) => components.get(inputName(input.nameOf(schema)))!;

  const paths: OpenApiDocument["paths"] = {};
  const tags: string[] = [];
  for (const [name, spec] of Object.entries(table)) {
    if (!tags.includes(spec.tag)) tags.push(spec.tag);
    const responses: Record<string, OpenApiResponse> = {};
    for (const [status, schema] of Object.entries(spec.responses)) {
      responses[status] = { description: REASONS[Number(status)] ?? "Success", ...(schema && { content: jsonContent(ref(output.nameOf(schema))) }) };
    }
    Object.assign(responses, errorResponses(spec.errors), {
      default: { description: "Any other failure: `INTERNAL` (500), or `VALIDATION` for a body over the limit (413) or in an unsupported encoding (415)", content: jsonContent(ref("ErrorBody")) },
    });
    const parameters = parametersOf(name, spec, schemaOf);
    const operation: OpenApiOperation = {
      operationId: name,
      summary: spec.summary,
      ...(spec.description !== undefined && { description: spec.description }),
      tags: [spec.tag],
      ...(parameters.length > 0 && { parameters }),
      ...(spec.body && { requestBody: { required: true, content: jsonContent(ref(inputName(input.nameOf(spec.body)))) } }),
      responses,
      ...(spec.auth && { security: [{ bearer: [] }] }),
    };
    (paths[openApiPath(spec.path)] ??= {})[spec.method.toLowerCase()] = operation;
  }

  // Only the components something references, directly or through another component.
  const kept = new Set<string>();
  const pending = [...referencedNames(paths)];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (kept.has(next)) continue;
    kept.add(next);
    const json = components.get(next);
    if (json === undefined) throw new Error(`no component ${next}`);
    pending.push(...referencedNames(json));
  }
  const schemas: Record<string, JsonSchema> = {};
  for (const name of [...kept].sort()) schemas[name] = components.get(name)!;

  return {
    openapi: "3.1.1",
    info: {
      title: "parley REST API",
      version: options.version === undefined ? PROTOCOL_VERSION : `${PROTOCOL_VERSION} (server ${options.version})`,
      description: DESCRIPTION,
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    ...(options.serverUrl !== undefined && { servers: [{ url: options.serverUrl }] }),
    tags: tags.map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "The access token of a session (`accessToken`), valid for `expiresIn` seconds." },
      },
    },
  };
}
