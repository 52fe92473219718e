/**
 * nginx in front of the local cluster, configured from the root nginx.conf itself, so that the local
 * cluster and the tests run the production locations, timeouts, headers, logs and per-address limits.
 * Only these change: the upstream block (between the `parley-upstreams` markers), the listen address,
 * the paths (pid, logs, temp files, the web app's directory) and the object store's origin marked
 * `# local:`, the trusted proxies (none unless a caller names some: every local client talks to nginx
 * directly), and the per-address limits when a caller asks ({@link LocalNginxOptions.limits}).
 *
 * Stickiness: the local cluster knows its gateways, so on top of production's affinity cookie it routes
 * exactly: every gateway prefixes its Engine.IO session ids with its ROUTE_ID, and a request carrying
 * `?sid=<route>.…` goes straight to that gateway. A request without a session (a new connection) goes
 * to the pool, which spreads connections with least_conn, deterministically: every test client
 * connects from 127.0.0.1, so neither ip_hash nor a random cookie would spread two clients reliably.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { ROOT } from "./paths.js";
import { ManagedProcess, isOk } from "./process.js";
import { WEB_DIST } from "./web.js";

export interface NginxUpstreams {
  /** Gateways with the ROUTE_ID each one puts in front of its session ids. */
  gateways: readonly { route: string; port: number }[];
  apiPort: number;
}

const BEGIN = "  # BEGIN parley-upstreams";
const END = "  # END parley-upstreams";

/** A request rate as nginx writes it, a whole number per second or per minute. */
export type NginxRate = `${number}r/s` | `${number}r/m`;

/** One per-address request limit: the sustained rate, and how many requests beyond it pass at once. */
export interface NginxRateLimit {
  rate: NginxRate;
  burst: number;
}

/** The per-client-address limits of nginx.conf (its comment says why each value). */
export interface NginxLimits {
  /** Requests in progress at once per address, anywhere (`limit_conn parley_conn`); a WebSocket counts for its life. */
  connections: number;
  /** Of which on /socket.io/ (`limit_conn parley_sockets`). */
  sockets: number;
  /** Requests to /api/ (`parley_api`). */
  api: NginxRateLimit;
  /** Requests to /api/auth/, on top of `api` (`parley_auth`). */
  auth: NginxRateLimit;
}

/** nginx refuses a `limit_conn` above this. */
const MAX_CONNECTION_LIMIT = 65_535;

/**
 * Limits for a load generator that opens everything from one address (`npm run bench`, the dashboard's
 * k6 run): nginx's largest connection limit and rates no run reaches. They are still enforced, so nginx
 * does the same work per request as in production.
 */
export const LOAD_GENERATOR_NGINX_LIMITS: NginxLimits = {
  connections: MAX_CONNECTION_LIMIT,
  sockets: MAX_CONNECTION_LIMIT,
  api: { rate: "100000r/s", burst: 100_000 },
  auth: { rate: "100000r/s", burst: 100_000 },
};

/** Local departures from the production config that a caller may ask for. */
export interface LocalNginxOptions {
  /**
   * `worker_processes` instead of production's `auto` (one per core): more workers spread the
   * descriptors of many held WebSockets (two each) under a per-process open-file limit.
   * @default "auto"
   */
  workers?: number | undefined;
  /**
   * The per-address limits: some of them replaced (the others keep nginx.conf's values), or `"off"`
   * for none at all. Everything local connects from 127.0.0.1, so a load from one process reaches
   * limits meant for a whole address: benchmarks raise them ({@link LOAD_GENERATOR_NGINX_LIMITS}).
   * @default nginx.conf's values ({@link productionNginxLimits})
   */
  limits?: Partial<NginxLimits> | "off" | undefined;
  /**
   * Addresses or CIDR ranges of a load balancer in front of this nginx, believed about the client's
   * address (`X-Forwarded-For`) and scheme (`X-Forwarded-Proto`) as nginx.conf's comment describes,
   * for tests of a deployment behind one. Whatever nginx.conf lists is never used locally.
   * @default none: every local client talks to nginx directly
   */
  trustedProxies?: readonly string[] | undefined;
  /**
   * The directory of the web app served at `/`.
   * @default packages/web/dist ({@link WEB_DIST})
   */
  webRoot?: string | undefined;
  /**
   * Origins of the object store that browsers fetch attachments from and upload them to
   * (`http://127.0.0.1:<port>` for the local store), allowed by the web app's Content-Security-Policy.
   * @default nginx.conf's
   */
  objectStoreOrigins?: readonly string[] | undefined;
}

/** The directives that carry each limit, with the value in the second group. */
const LIMIT_DIRECTIVES = {
  connections: /(limit_conn parley_conn )(\d+)(?=;)/g,
  sockets: /(limit_conn parley_sockets )(\d+)(?=;)/g,
  apiRate: /(limit_req_zone \S+ zone=parley_api:\S+ rate=)([^;\s]+)(?=;)/g,
  apiBurst: /(limit_req zone=parley_api burst=)(\d+)/g,
  authRate: /(limit_req_zone \S+ zone=parley_auth:\S+ rate=)([^;\s]+)(?=;)/g,
  authBurst: /(limit_req zone=parley_auth burst=)(\d+)/g,
} as const;

/** The value of a limit directive in `conf`; throws when nginx.conf lost it. */
function limitValue(conf: string, directive: keyof typeof LIMIT_DIRECTIVES): string {
  const match = new RegExp(LIMIT_DIRECTIVES[directive].source).exec(conf);
  if (!match) throw new Error(`nginx.conf lacks its ${directive} limit (${LIMIT_DIRECTIVES[directive].source})`);
  return match[2]!;
}

/** The per-address limits that nginx.conf sets (those of a production deployment). */
export function productionNginxLimits(): NginxLimits {
  return nginxLimitsOf(readFileSync(join(ROOT, "nginx.conf"), "utf8"));
}

/** The per-address limits that an nginx config derived from nginx.conf sets; throws when it has none. */
export function nginxLimitsOf(conf: string): NginxLimits {
  return {
    connections: Number(limitValue(conf, "connections")),
    sockets: Number(limitValue(conf, "sockets")),
    api: { rate: limitValue(conf, "apiRate") as NginxRate, burst: Number(limitValue(conf, "apiBurst")) },
    auth: { rate: limitValue(conf, "authRate") as NginxRate, burst: Number(limitValue(conf, "authBurst")) },
  };
}

/** `conf` with the limits asked for: replaced, or every `limit_conn`/`limit_req` removed for `"off"`. */
function withLimits(conf: string, limits: Partial<NginxLimits> | "off"): string {
  if (limits === "off") return conf.replace(/^[ \t]*limit_(conn|req) [^\n]*;\n/gm, "");
  const wanted = { ...nginxLimitsOf(conf), ...limits };
  for (const [name, value] of [["connections", wanted.connections], ["sockets", wanted.sockets]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_CONNECTION_LIMIT) throw new Error(`nginx limits: ${name} must be 1..${MAX_CONNECTION_LIMIT}`);
  }
  for (const [name, { rate, burst }] of [["api", wanted.api], ["auth", wanted.auth]] as const) {
    if (!/^[1-9]\d*r\/[sm]$/.test(rate)) throw new Error(`nginx limits: ${name}.rate must be a whole number of r/s or r/m, not ${rate}`);
    if (!Number.isInteger(burst) || burst < 1) throw new Error(`nginx limits: ${name}.burst must be a whole number from 1 (nginx refuses 0)`);
  }
  const values: Record<keyof typeof LIMIT_DIRECTIVES, string | number> = {
    connections: wanted.connections,
    sockets: wanted.sockets,
    apiRate: wanted.api.rate,
    apiBurst: wanted.api.burst,
    authRate: wanted.auth.rate,
    authBurst: wanted.auth.burst,
  };
  let result = conf;
  for (const [directive, pattern] of Object.entries(LIMIT_DIRECTIVES) as [keyof typeof LIMIT_DIRECTIVES, RegExp][]) {
    result = result.replace(pattern, (_all, head: string) => `${head}${values[directive]}`);
  }
  return result;
}

/**
 * `conf` trusting `proxies` only (by default none: every client of the local cluster connects to nginx
 * itself, so a forwarding header it sends is never believed), whatever nginx.conf was edited to trust.
 */
function trustingOnly(conf: string, proxies: readonly string[] = []): string {
  const trusted = /(geo \$realip_remote_addr \$parley_via_trusted_proxy \{\n)[^}]*\}/;
  const realIp = /^([ \t]*)real_ip_header /m;
  if (!trusted.test(conf) || !realIp.test(conf)) throw new Error("nginx.conf lacks its real_ip_header or its 'geo $realip_remote_addr $parley_via_trusted_proxy' block");
  for (const proxy of proxies) if (!/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/.test(proxy)) throw new Error(`not an address or CIDR range: ${proxy}`);
  return conf
    .replace(/^[ \t]*set_real_ip_from [^\n]*;\n/gm, "")
    .replace(realIp, (line, indent: string) => `${proxies.map((p) => `${indent}set_real_ip_from ${p};\n`).join("")}${line}`)
    .replace(trusted, (_all, head: string) => `${head}    default 0;\n${proxies.map((p) => `    ${p} 1;\n`).join("")}  }`);
}

/** The root nginx.conf (or `production`, the text of one like it) turned into the local cluster's config. */
export function renderLocalNginxConf(
  { gateways, apiPort }: NginxUpstreams,
  port: number,
  dir: string,
  options: LocalNginxOptions = {},
  production = readFileSync(join(ROOT, "nginx.conf"), "utf8"),
): string {
  const begin = production.indexOf(BEGIN);
  const end = production.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`nginx.conf lacks the '${BEGIN.trim()}' … '${END.trim()}' markers`);

  const upstreams = `${BEGIN} (generated by scripts/lib/nginx.ts for the local cluster)
  map $arg_sid $parley_gateway {
${gateways.map((g) => `    ~^${g.route}\\. gateway_${g.route};`).join("\n")}
    default gateway_pool;
  }

  upstream gateway_pool {
    # Shared by nginx's worker processes, so least_conn counts every connection, whichever worker took it.
    zone gateway_pool 64k;
    least_conn;
${gateways.map((g) => `    server 127.0.0.1:${g.port} max_fails=0;`).join("\n")}
  }
${gateways.map((g) => `  upstream gateway_${g.route} { server 127.0.0.1:${g.port}; }`).join("\n")}

  upstream api {
    server 127.0.0.1:${apiPort};
    keepalive 32;
  }
`;
  for (const origin of options.objectStoreOrigins ?? []) {
    if (!/^https?:\/\/[A-Za-z0-9.:[\]-]+$/.test(origin)) throw new Error(`not an origin (scheme://host[:port]): ${origin}`);
  }
  // A marker mapped to undefined keeps nginx.conf's line.
  const local = new Map<string, string | undefined>([
    ["error_log", `error_log ${join(dir, "error.log")} warn;`],
    ["access_log", `access_log ${join(dir, "access.log")} parley_json;`],
    ["listen", `listen 127.0.0.1:${port};`],
    ["web_root", `root ${options.webRoot ?? WEB_DIST};`],
    ["object_store_origins", options.objectStoreOrigins && `default "${options.objectStoreOrigins.join(" ")}";`],
  ]);
  const body = (production.slice(0, begin) + upstreams + production.slice(end))
    .split("\n")
    .map((line) => {
      const marker = /^(\s*).*# local: (\w+)$/.exec(line);
      if (!marker) return line;
      if (!local.has(marker[2]!)) throw new Error(`unknown '# local:' marker in nginx.conf: ${marker[2]}`);
      const replacement = local.get(marker[2]!);
      return replacement === undefined ? line : `${marker[1]}${replacement}`;
    })
    .join("\n");
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((kind) => `  ${kind}_temp_path ${join(dir, "tmp", kind)};`)
    .join("\n");
  let conf = trustingOnly(body.replace("http {\n", `http {\n${temp}\n`), options.trustedProxies);
  if (options.limits !== undefined) conf = withLimits(conf, options.limits);
  if (options.workers !== undefined) {
    if (!/^worker_processes auto;$/m.test(conf)) throw new Error("nginx.conf lacks 'worker_processes auto;'");
    conf = conf.replace(/^worker_processes auto;$/m, `worker_processes ${options.workers};`);
  }
  return `# Generated from nginx.conf by scripts/lib/nginx.ts for a local parley cluster. Do not edit.
daemon off;
pid ${join(dir, "nginx.pid")};
${conf}`;
}

/** Writes the local config and the directories it names into `dir`; returns the config's path. */
export function writeLocalNginxConf(upstreams: NginxUpstreams, port: number, dir: string, options: LocalNginxOptions = {}): string {
  for (const sub of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, "tmp", sub), { recursive: true });
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, renderLocalNginxConf(upstreams, port, dir, options));
  return conf;
}

/** Writes the config into `dir` and runs nginx in the foreground; resolves once it answers. */
export async function startNginx(upstreams: NginxUpstreams, port: number, dir: string, options: LocalNginxOptions = {}): Promise<ManagedProcess> {
  const conf = writeLocalNginxConf(upstreams, port, dir, options);
  const nginx = new ManagedProcess({
    name: "nginx",
    command: "nginx",
    args: ["-p", dir, "-c", conf, "-e", join(dir, "error.log")],
    env: { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` },
    logFile: join(dir, "nginx.out.log"),
  });
  await nginx.waitUntil(() => isOk(`http://127.0.0.1:${port}/healthz`), 10_000, "answering");
  return nginx;
}
