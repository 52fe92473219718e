/**
 * The typed REST client: one `call(name, input)` for every route of the protocol's route table, its
 * input and answer typed by the route's schemas. The server validates; the client checks nothing beyond
 * what TypeScript does. Browser-safe: the global `fetch`, no Node built-ins.
 */
import { endpoints, ERROR_CODES, type Endpoint, type RouteInput, type RouteName, type RouteOutput, type WireError } from "@parley/protocol";

import { ParleyError, toParleyError } from "./errors.js";
import { codeOfStatus, parseRetryAfter } from "./lib/http.js";

/** Options of {@link createRestClient}. */
export interface RestClientOptions {
  /** Where the API is: an origin (`https://chat.example.com`) or a base URL; the routes' `/api/…` paths are appended. */
  url: string;
  /**
   * The access token for routes that need one. Called before each such call, and once more after a
   * `401 TOKEN_EXPIRED`, with the refused token as `expired` (the provider should refresh then), before
   * the one retry. A provider that takes no argument works too.
   * @default none: authenticated routes are sent without a token and answer `AUTH_REQUIRED`
   */
  getToken?: (hint?: TokenHint) => Promise<string>;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** Sent with every request (say a `user-agent` in Node); never overrides `authorization` or `content-type`. */
  headers?: Record<string, string>;
}

/** What a token provider is told when it is asked again. */
export interface TokenHint {
  /** The token the server just refused as expired: answer a newer one. */
  expired?: string;
}

/** Calls the API's REST routes by name. */
export interface RestClient {
  /**
   * Calls route `name` with its path parameters, query and body, and resolves with its answer
   * (`undefined` for a route answering no body, such as `204`).
   * @throws {ParleyError} with the server's code for an answer that is not 2xx (`retryAfterMs` from
   * `Retry-After` when the body has none), `UNAVAILABLE` when no answer came.
   */
  call<N extends RouteName>(name: N, input: RouteInput<N>): Promise<RouteOutput<N>>;
}

/** The parts of a call's input, whatever the route. */
interface AnyInput {
  params?: Record<string, string | number>;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
}

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** Creates a {@link RestClient} for the API at `options.url`. */
export function createRestClient(options: RestClientOptions): RestClient {
  const base = options.url.replace(/\/+$/, "");
  const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  async function send(spec: Endpoint, input: AnyInput, token: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers, accept: "application/json" };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const init: RequestInit = { method: spec.method, headers };
    if (input.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(input.body);
    }
    try {
      return await fetchFn(base + pathOf(spec, input), init);
    } catch (err) {
      throw toParleyError(err);
    }
  }

  return {
    async call<N extends RouteName>(name: N, input: RouteInput<N>): Promise<RouteOutput<N>> {
      // `endpoints`, not `routes`: the schemas stay out of the bundle (the server validates).
      const spec: Endpoint = endpoints[name];
      const parts = input as AnyInput;
      const getToken = spec.auth ? options.getToken : undefined;
      const token = getToken && (await getToken());
      let res = await send(spec, parts, token);
      if (!res.ok) {
        let error = await errorOf(res);
        if (getToken && error.code === "TOKEN_EXPIRED") {
          res = await send(spec, parts, await getToken({ expired: token }));
          if (!res.ok) error = await errorOf(res);
        }
        if (!res.ok) throw error;
      }
      return (await bodyOf(res)) as RouteOutput<N>;
    },
  };
}

/** The route's path with its parameters filled in, and its query string. */
function pathOf(spec: Endpoint, { params = {}, query = {} }: AnyInput): string {
  const path = spec.path.replace(/:([A-Za-z0-9_]+)/g, (_, key: string) => {
    const value = params[key];
    if (value === undefined) throw new TypeError(`${spec.method} ${spec.path} needs the path parameter '${key}'`);
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) search.append(key, String(value));
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The JSON body of a success answer; undefined when there is none. */
async function bodyOf(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ParleyError({ code: "INTERNAL", message: `The server answered ${res.status} with a body that is not JSON` }, { status: res.status, cause: err });
  }
}

/** The error of an answer that is not 2xx: the `{ error }` body, or one made from the status. */
async function errorOf(res: Response): Promise<ParleyError> {
  let wire = await wireErrorOf(res);
  if (wire.retryAfterMs === undefined && (res.status === 429 || res.status === 503)) {
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
    if (retryAfterMs !== undefined) wire = { ...wire, retryAfterMs };
  }
  return new ParleyError(wire, { status: res.status });
}

async function wireErrorOf(res: Response): Promise<WireError> {
  let body: unknown;
  try {
    body = JSON.parse(await res.text());
  } catch {
    body = undefined;
  }
  const error = (body as { error?: Partial<WireError> } | undefined)?.error;
  if (error && typeof error.code === "string" && KNOWN_CODES.has(error.code) && typeof error.message === "string") return error as WireError;
  // Not parley's answer (a proxy's page, a newer code): the status says what it can.
  return { code: codeOfStatus(res.status), message: typeof error?.message === "string" ? error.message : `The server answered ${res.status}` };
}
