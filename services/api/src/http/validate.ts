/** Parsing of request bodies, queries and path parameters with the shared schemas. */
import type { Request } from "express";
import type { z } from "zod";

import { parseInput } from "@parley/shared/schemas";

/**
 * The request body parsed with `schema`.
 * @throws {ValidationError} naming every invalid field.
 */
export function parseBody<S extends z.ZodType>(req: Request, schema: S): z.output<S> {
  return parseInput(schema, req.body, "request body");
}

/**
 * The query string parsed with `schema`.
 * @throws {ValidationError} naming every invalid field.
 */
export function parseQuery<S extends z.ZodType>(req: Request, schema: S): z.output<S> {
  return parseInput(schema, req.query, "query");
}

/**
 * The path parameters parsed with `schema`.
 * @throws {ValidationError} naming every invalid parameter.
 */
export function parseParams<S extends z.ZodType>(req: Request, schema: S): z.output<S> {
  return parseInput(schema, req.params, "path parameters");
}
