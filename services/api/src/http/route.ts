/**
 * Registration of a route of the protocol's route table (`routes` of `@parley/protocol`) on an Express
 * router: its method and path come from the table, its path parameters, query and body are parsed with
 * the table's schemas, and its answer is typed by the table's responses. A route's schemas therefore
 * cannot drift from what the API registers, parses and sends.
 */
import type { Request, RequestHandler, Response, Router } from "express";
import type { z } from "zod";

import type { RouteSpec } from "@parley/protocol";

import { parseBody, parseParams, parseQuery } from "./validate.js";

type Parsed<S, K extends "params" | "query" | "body"> = S extends { readonly [P in K]: infer T extends z.ZodType } ? z.output<T> : undefined;

/** The input of a route, parsed with its schemas; `undefined` for a part the route does not take. */
export interface ParsedInput<S extends RouteSpec> {
  params: Parsed<S, "params">;
  query: Parsed<S, "query">;
  body: Parsed<S, "body">;
}

type StatusOf<S extends RouteSpec> = keyof S["responses"] & number;

/** A success answer of route `S`: one of its statuses, with a body of that status's schema. */
export type RouteReply<S extends RouteSpec> = {
  [K in StatusOf<S>]: S["responses"][K] extends z.ZodType ? { status: K; body: z.input<S["responses"][K]> } : { status: K; body?: undefined };
}[StatusOf<S>];

/** What a handler returns when it has written the response itself (a streamed download). */
export const ANSWERED: unique symbol = Symbol("answered");

/** The handler of route `S`: its answer, or {@link ANSWERED}. A thrown error goes to the error handler. */
export type RouteHandler<S extends RouteSpec> = (
  input: ParsedInput<S>,
  req: Request,
  res: Response,
) => Promise<RouteReply<S> | typeof ANSWERED>;

const METHODS = { GET: "get", POST: "post", PATCH: "patch", PUT: "put", DELETE: "delete" } as const;

/** A route of the table, ready to be given its handler. */
export interface PendingRoute<S extends RouteSpec> {
  /** Registers the route, with `handler` answering it. */
  handle(handler: RouteHandler<S>): void;
}

/**
 * Registers routes of the table on one router: `route(spec, ...before).handle(handler)`, with `before`
 * (rate limits, body parsers, authentication) running first. Two steps, so that the route's type is
 * fixed before the handler is checked against it (a literal status then stays a literal).
 */
export type RouteRegistrar = <S extends RouteSpec>(spec: S, ...before: RequestHandler[]) => PendingRoute<S>;

/**
 * A function that registers routes of the table on `router`, which is mounted at `prefix` (say
 * `/api/users`): each at its path less the prefix. Input is parsed in the order path parameters, query,
 * body, so the first invalid part is the one refused.
 * @throws {Error} at registration, for a route whose path is not under `prefix`.
 */
export function routesOn(router: Router, prefix: `/api${string}`): RouteRegistrar {
  return <S extends RouteSpec>(spec: S, ...before: RequestHandler[]): PendingRoute<S> => ({
    handle(handler) {
      if (spec.path !== prefix && !spec.path.startsWith(`${prefix}/`)) throw new Error(`route ${spec.method} ${spec.path} is not under ${prefix}`);
      const path = spec.path.slice(prefix.length) || "/";
      const run: RequestHandler = async (req, res) => {
        const input = {
          params: spec.params && parseParams(req, spec.params),
          query: spec.query && parseQuery(req, spec.query),
          body: spec.body && parseBody(req, spec.body),
        } as ParsedInput<S>;
        const reply = await handler(input, req, res);
        if (reply === ANSWERED) return;
        res.status(reply.status);
        if (reply.body === undefined) res.end();
        else res.json(reply.body);
      };
      router[METHODS[spec.method]](path, ...before, run);
    },
  });
}
