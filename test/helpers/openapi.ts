/**
 * Checks values against the schemas of an OpenAPI document with a JSON Schema 2020-12 validator (Ajv, in
 * strict mode, with the formats of ajv-formats): the schema of an operation's request body, or of one of
 * its answers, exactly where the document puts it.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import formats, { type FormatsPlugin } from "ajv-formats";

import type { OpenApiDocument, OpenApiOperation } from "@parley/protocol";

const DOCUMENT_ID = "https://parley.invalid/openapi.json";

/** The keywords of an OpenAPI document's root, known to Ajv so that it can hold the document as a schema. */
const DOCUMENT_KEYWORDS = ["openapi", "info", "servers", "tags", "paths", "components"];

/** A JSON Pointer token: `/` and `~` escaped. */
const token = (s: string) => s.replaceAll("~", "~0").replaceAll("/", "~1");

/** One operation of the document, where it is. */
export interface LocatedOperation {
  path: string;
  method: string;
  operation: OpenApiOperation;
}

/** Checks of values against one document. */
export interface DocumentSchemas {
  /** The operation whose `operationId` is `id`. */
  operation(id: string): LocatedOperation;
  /**
   * The errors of `body` against the answer the operation documents for `status` (its `default`
   * when it documents none for that status); empty when it conforms.
   * @throws {Error} when the answer has no body in the document but `body` is not empty, or conversely.
   */
  checkResponse(id: string, status: number, body: unknown): ErrorObject[];
  /** The errors of `body` against the operation's request body; empty when it conforms. */
  checkRequest(id: string, body: unknown): ErrorObject[];
  /** Every schema of the document compiles (strict mode: unknown keywords, bad types, broken `$ref`s fail). */
  compileAll(): void;
}

/** Ajv holding `document`, with a compiled validator per JSON Pointer into it. */
export function documentSchemas(document: OpenApiDocument): DocumentSchemas {
  // strictRequired off: `anyOf: [{ required: ["a"] }, { required: ["b"] }]` ("a or b") names
  // properties declared beside it, which is valid JSON Schema that Ajv's strictest mode refuses.
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, allowUnionTypes: true });
  // ajv-formats is CommonJS: its default export is the plugin, or the module holding it.
  const addFormats = ((formats as unknown as { default?: FormatsPlugin }).default ?? formats) as FormatsPlugin;
  addFormats(ajv);
  ajv.addVocabulary(DOCUMENT_KEYWORDS);
  ajv.addSchema(document as object, DOCUMENT_ID);
  const compiled = new Map<string, ValidateFunction>();
  const validator = (pointer: string): ValidateFunction => {
    let validate = compiled.get(pointer);
    if (!validate) {
      validate = ajv.compile({ $ref: `${DOCUMENT_ID}#${pointer}` });
      compiled.set(pointer, validate);
    }
    return validate;
  };
  const check = (pointer: string, value: unknown): ErrorObject[] => {
    const validate = validator(pointer);
    return validate(value) ? [] : [...(validate.errors ?? [])];
  };

  const schemas: DocumentSchemas = {
    operation(id) {
      for (const [path, methods] of Object.entries(document.paths)) {
        for (const [method, operation] of Object.entries(methods)) {
          if (operation.operationId === id) return { path, method, operation };
        }
      }
      throw new Error(`no operation ${id} in the document`);
    },
    checkResponse(id, status, body) {
      const { path, method, operation } = schemas.operation(id);
      const key = String(status) in operation.responses ? String(status) : "default";
      const documented = operation.responses[key]!;
      if (!documented.content) {
        if (body !== null && body !== undefined && body !== "") throw new Error(`${id} ${status}: the document says no body, the answer has one`);
        return [];
      }
      if (body === null || body === undefined) throw new Error(`${id} ${status}: the document says a body, the answer has none`);
      return check(`/paths/${token(path)}/${method}/responses/${key}/content/${token("application/json")}/schema`, body);
    },
    checkRequest(id, body) {
      const { path, method, operation } = schemas.operation(id);
      if (!operation.requestBody) throw new Error(`${id} takes no body`);
      return check(`/paths/${token(path)}/${method}/requestBody/content/${token("application/json")}/schema`, body);
    },
    compileAll() {
      for (const name of Object.keys(document.components.schemas)) validator(`/components/schemas/${token(name)}`);
      for (const [path, methods] of Object.entries(document.paths)) {
        for (const [method, operation] of Object.entries(methods)) {
          const at = `/paths/${token(path)}/${method}`;
          operation.parameters?.forEach((_p, i) => validator(`${at}/parameters/${i}/schema`));
          if (operation.requestBody) validator(`${at}/requestBody/content/${token("application/json")}/schema`);
          for (const [status, response] of Object.entries(operation.responses)) {
            if (response.content) validator(`${at}/responses/${status}/content/${token("application/json")}/schema`);
          }
        }
      }
    },
  };
  return schemas;
}

/** The errors, one line each, for a test's failure message. */
export function describeErrors(errors: readonly ErrorObject[]): string {
  return errors.map((e) => `${e.instancePath || "(root)"} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`).join("\n");
}
