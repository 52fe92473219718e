/**
 * The production nginx.conf: `nginx -t` on the file itself, with its upstream names (gateway, api)
 * resolved through a private /etc/hosts in a mount namespace of its own, as Docker's DNS would.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { gatewayConfigSchema } from "../../services/gateway/src/config.js";
import { loadConfig } from "@parley/shared/config";
import {
  LOAD_GENERATOR_NGINX_LIMITS,
  nginxLimitsOf,
  productionNginxLimits,
  renderLocalNginxConf,
  writeLocalNginxConf,
  type LocalNginxOptions,
} from "../../scripts/lib/nginx.js";
import { ROOT } from "../../scripts/lib/paths.js";
import { WEB_DIST } from "../../scripts/lib/web.js";
import { testDir } from "../helpers/env.js";

const conf = readFileSync(join(ROOT, "nginx.conf"), "utf8");

/** `nginx -t` on `file`, with the upstream names resolved as Docker's DNS would; nginx's verdict. */
function nginxTest(file: string, dir = testDir("nginx-t")): string {
  writeFileSync(join(dir, "hosts"), "127.0.0.1 localhost gateway api\n");
  // nginx's stderr goes to a file: the config logs to /dev/stderr, which cannot be opened when it is a
  // Unix socket (Node's stdio pipes are; Docker's are FIFOs, which can).
  const output = join(dir, "nginx-t.out");
  try {
    execFileSync(
      "unshare",
      ["--mount", "sh", "-c", `mount --bind "${join(dir, "hosts")}" /etc/hosts && exec nginx -t -c "${file}" 2>"${output}"`],
      { stdio: "ignore", env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } },
    );
  } catch {
    // The verdict says why.
  }
  return readFileSync(output, "utf8");
}

describe("nginx.conf", () => {
  it("passes nginx -t", () => {
    expect(nginxTest(join(ROOT, "nginx.conf"))).toContain("test is successful");
  });

  it("keeps idle Socket.IO connections open longer than the heartbeat takes to notice a dead peer", () => {
    const { PING_INTERVAL_MS, PING_TIMEOUT_MS } = loadConfig(gatewayConfigSchema, { JWT_SECRET: "x".repeat(32) });
    const socketIo = locationBlock("/socket.io/");
    for (const directive of ["proxy_read_timeout", "proxy_send_timeout"]) {
      const seconds = Number(new RegExp(`${directive} (\\d+)s;`).exec(socketIo)?.[1]);
      expect(seconds * 1000, directive).toBeGreaterThan(PING_INTERVAL_MS + PING_TIMEOUT_MS);
    }
  });

  it("proxies WebSocket upgrades and unbuffered long-polling to the gateways, with stickiness", () => {
    const socketIo = locationBlock("/socket.io/");
    expect(socketIo).toContain("proxy_http_version 1.1;");
    expect(socketIo).toContain("proxy_set_header Upgrade $http_upgrade;");
    expect(socketIo).toContain("proxy_set_header Connection $connection_upgrade;");
    expect(socketIo).toContain("proxy_buffering off;");
    expect(socketIo).toContain("proxy_pass http://$parley_gateway;");
    expect(conf).toMatch(/upstream gateway_pool \{\s*hash \$parley_affinity consistent;/);
    expect(socketIo).toMatch(/add_header Set-Cookie "parley_affinity=\$parley_affinity;/);
  });

  it("limits bodies, logs JSON, and never routes metrics", () => {
    expect(conf).toMatch(/client_max_body_size \d+[km];/);
    expect(conf).toMatch(/log_format parley_json escape=json/);
    expect(conf).toMatch(/access_log \S+ parley_json;/);
    expect(locationBlock("= /metrics")).toContain("return 404");
    expect(conf).not.toMatch(/9464/);
  });
});

describe("nginx.conf at the edge", () => {
  const active = (text: string) => text.split("\n").filter((line) => !/^\s*#/.test(line)).join("\n");

  it("limits connections and request rates per client address, answering 429 as JSON", () => {
    const live = active(conf);
    expect(live).toMatch(/limit_conn_zone \$binary_remote_addr zone=parley_conn:\d+m;/);
    expect(live).toMatch(/limit_conn_zone \$binary_remote_addr zone=parley_sockets:\d+m;/);
    expect(live).toMatch(/limit_req_zone \$binary_remote_addr zone=parley_api:\d+m rate=\d+r\/s;/);
    expect(live).toMatch(/limit_req_zone \$parley_auth_address zone=parley_auth:\d+m rate=\d+r\/[sm];/);
    expect(live).toMatch(/map \$uri \$parley_auth_address \{\s*default\s+"";\s*~\^\/api\/auth\/\s+\$binary_remote_addr;/);
    expect(live).toContain("limit_conn_status 429;");
    expect(live).toContain("limit_req_status 429;");
    // The server's limit_conn, and both in /socket.io/, whose own would otherwise replace the server's.
    const server = live.slice(live.indexOf("  server {"));
    expect(server.slice(0, server.indexOf("location"))).toMatch(/limit_conn parley_conn \d+;/);
    const socketIo = active(locationBlock("/socket.io/"));
    expect(socketIo).toMatch(/limit_conn parley_conn \d+;/);
    expect(socketIo).toMatch(/limit_conn parley_sockets \d+;/);
    const api = active(locationBlock("/api/"));
    expect(api).toMatch(/limit_req zone=parley_api burst=\d+ nodelay;/);
    expect(api).toMatch(/limit_req zone=parley_auth burst=\d+ nodelay;/);
    expect(server).toContain("error_page 429 @too_many_requests;");
    const refusal = /return 429 '(.+)';/.exec(locationBlock("@too_many_requests"))?.[1];
    expect(JSON.parse(refusal!)).toEqual({ error: { code: "RATE_LIMITED", message: expect.any(String), retryAfterMs: 1000 } });
  });

  it("has production limits a shared address can live with, stricter on /api/auth/", () => {
    const limits = productionNginxLimits();
    const perSecond = (rate: string) => Number(rate.slice(0, -3)) / (rate.endsWith("r/m") ? 60 : 1);
    expect(limits.sockets).toBeGreaterThanOrEqual(100);
    expect(limits.connections).toBeGreaterThan(limits.sockets);
    expect(perSecond(limits.auth.rate)).toBeLessThan(perSecond(limits.api.rate));
    expect(limits.auth.burst).toBeLessThan(limits.api.burst);
    // Above the API's own per-address login bucket, so that clients normally meet the API's answer.
    const { RATE_LIMIT_LOGIN_ADDRESS_BURST } = loadConfig(gatewayConfigSchema, { JWT_SECRET: "x".repeat(32) });
    expect(limits.auth.burst).toBeGreaterThan(RATE_LIMIT_LOGIN_ADDRESS_BURST);
  });

  it("tells the services only the client address and scheme that nginx vouches for", () => {
    for (const match of ["/socket.io/", "/api/", "= /readyz"]) {
      const block = active(locationBlock(match));
      expect(block, match).toContain("proxy_set_header X-Forwarded-For $remote_addr;");
      expect(block, match).toContain("proxy_set_header X-Forwarded-Proto $parley_forwarded_proto;");
    }
    expect(active(conf)).not.toContain("$proxy_add_x_forwarded_for");
    expect(conf).toMatch(/map "\$parley_via_trusted_proxy:\$http_x_forwarded_proto" \$parley_forwarded_proto \{\s*default\s+\$scheme;/);
  });

  it("trusts no proxy as shipped, and the same proxies for the address and the scheme once set", () => {
    expect(trustedProxies(conf)).toEqual({ address: [], scheme: [] });
    const behindBalancer = withTrustedProxy(conf);
    expect(trustedProxies(behindBalancer)).toEqual({ address: ["10.0.1.0/24"], scheme: ["10.0.1.0/24"] });
    const dir = testDir("nginx-t-proxy");
    writeFileSync(join(dir, "nginx.conf"), behindBalancer);
    expect(nginxTest(join(dir, "nginx.conf"), dir)).toContain("test is successful");
  });
});

describe("nginx.conf serving the web app", () => {
  it("answers index.html for every path the app routes itself, revalidated at every load", () => {
    const app = locationBlock("/");
    expect(app).toContain("try_files $uri /index.html;");
    expect(app).toContain('add_header Cache-Control "no-cache" always;');
    expect(conf).toMatch(/^ {4}root \/usr\/share\/parley\/web; # local: web_root$/m);
  });

  it("caches the content-hashed assets for a year", () => {
    const assets = locationBlock("/assets/");
    expect(assets).toContain("try_files $uri =404;");
    expect(assets).toContain('add_header Cache-Control "public, max-age=31536000, immutable" always;');
  });

  it("serves the service worker from the root, revalidated at every check, and never index.html in its place", () => {
    const worker = locationBlock("= /sw.js");
    expect(worker).toContain("try_files $uri =404;");
    expect(worker).toContain('add_header Cache-Control "no-cache" always;');
  });

  it("sends a strict Content-Security-Policy, and no sniffing, with the app's pages, assets and service worker", () => {
    for (const match of ["/", "/assets/", "= /sw.js"]) {
      const block = locationBlock(match);
      expect(block, match).toContain("add_header Content-Security-Policy $parley_csp always;");
      expect(block, match).toContain("add_header X-Content-Type-Options nosniff always;");
    }
    const csp = cspOf(conf);
    expect(csp["default-src"]).toEqual(["'none'"]);
    expect(csp["script-src"]).toEqual(["'self'"]);
    expect(csp["style-src"]).toEqual(["'self'"]);
    expect(csp["worker-src"]).toEqual(["'self'"]);
    for (const directive of ["img-src", "media-src", "connect-src"]) {
      expect(csp[directive], directive).toEqual(expect.arrayContaining(["'self'", "$parley_object_store_origins"]));
    }
    for (const directive of ["frame-ancestors", "base-uri", "object-src"]) expect(csp[directive], directive).toEqual(["'none'"]);
    expect(Object.values(csp).flat().filter((source) => /unsafe|\*|data:/.test(source))).toEqual([]);
  });

  it("allows the object store's origin that docker-compose.yml publishes", () => {
    expect(objectStoreOriginsOf(conf)).toEqual(["http://localhost:8081"]);
  });
});

describe("the local cluster's nginx config", () => {
  const upstreams = { gateways: [{ route: "g0", port: 20_001 }, { route: "g1", port: 20_002 }], apiPort: 20_003 };
  const render = (options: LocalNginxOptions, production?: string) => renderLocalNginxConf(upstreams, 20_000, testDir("nginx-local"), options, production);

  it("keeps the production limits by default, replaces those asked for, or has none", () => {
    expect(nginxLimitsOf(render({}))).toEqual(productionNginxLimits());
    const small = { sockets: 3, auth: { rate: "2r/m", burst: 1 } } as const;
    expect(nginxLimitsOf(render({ limits: small }))).toEqual({ ...productionNginxLimits(), ...small });
    expect(nginxLimitsOf(render({ limits: LOAD_GENERATOR_NGINX_LIMITS }))).toEqual(LOAD_GENERATOR_NGINX_LIMITS);
    const off = render({ limits: "off" });
    expect(off).not.toMatch(/^\s*limit_(conn|req) /m);
    expect(() => nginxLimitsOf(off)).toThrow(/lacks/);
    expect(() => render({ limits: { sockets: 70_000 } })).toThrow(/sockets must be/);
    expect(() => render({ limits: { api: { rate: "0.5r/s", burst: 1 } } })).toThrow(/rate must be/);
    expect(() => render({ limits: { auth: { rate: "1r/s", burst: 0 } } })).toThrow(/burst must be/);
  });

  it("is valid for nginx with every kind of limits", () => {
    for (const limits of [undefined, "off", { connections: 2, sockets: 1, api: { rate: "1r/m", burst: 1 } }, LOAD_GENERATOR_NGINX_LIMITS] as const) {
      const dir = testDir("nginx-local-t");
      expect(nginxTest(writeLocalNginxConf(upstreams, 20_000, dir, { limits }), dir), JSON.stringify(limits)).toContain("test is successful");
    }
  });

  it("serves the built web app, and allows the object store it is given", () => {
    expect(render({})).toMatch(new RegExp(`^ {4}root ${WEB_DIST};$`, "m"));
    expect(objectStoreOriginsOf(render({}))).toEqual(objectStoreOriginsOf(conf));
    const local = render({ webRoot: "/srv/web", objectStoreOrigins: ["http://127.0.0.1:9000", "https://cdn.example.com"] });
    expect(local).toMatch(/^ {4}root \/srv\/web;$/m);
    expect(objectStoreOriginsOf(local)).toEqual(["http://127.0.0.1:9000", "https://cdn.example.com"]);
    expect(() => render({ objectStoreOrigins: ['http://x"; add_header a b'] })).toThrow(/not an origin/);
  });

  it("trusts no proxy, even when nginx.conf was set up to trust one", () => {
    expect(trustedProxies(render({}, withTrustedProxy(conf)))).toEqual({ address: [], scheme: [] });
  });
});

/** nginx.conf with the commented example of a trusted load balancer switched on, in both places. */
function withTrustedProxy(text: string): string {
  const address = "  # set_real_ip_from 10.0.1.0/24;\n";
  const scheme = "    # 10.0.1.0/24 1;\n";
  expect(text).toContain(address);
  expect(text).toContain(scheme);
  return text.replace(address, "  set_real_ip_from 10.0.1.0/24;\n").replace(scheme, "    10.0.1.0/24 1;\n");
}

/** The proxies a config believes about the client address (set_real_ip_from) and scheme (the geo block). */
function trustedProxies(text: string): { address: string[]; scheme: string[] } {
  const geo = /geo \$realip_remote_addr \$parley_via_trusted_proxy \{([^}]*)\}/.exec(text)?.[1];
  if (geo === undefined) throw new Error("no geo block of trusted proxies");
  return {
    address: [...text.matchAll(/^\s*set_real_ip_from (\S+);/gm)].map((m) => m[1]!),
    scheme: [...geo.matchAll(/^\s*(\S+)\s+1;/gm)].map((m) => m[1]!),
  };
}

/** The web app's Content-Security-Policy in a config: directive → sources. */
function cspOf(text: string): Record<string, string[]> {
  const policy = /map \$host \$parley_csp \{\s*default "([^"]+)";/.exec(text)?.[1];
  if (policy === undefined) throw new Error("no $parley_csp map");
  return Object.fromEntries(policy.split(";").map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...sources]) => [name!, sources]));
}

/** The object store origins a config allows. */
function objectStoreOriginsOf(text: string): string[] {
  const origins = /map \$host \$parley_object_store_origins \{\s*default "([^"]*)";/.exec(text)?.[1];
  if (origins === undefined) throw new Error("no $parley_object_store_origins map");
  return origins.split(" ").filter(Boolean);
}

/** The body of the `location <match> { … }` block. */
function locationBlock(match: string): string {
  const start = conf.indexOf(`location ${match} {`);
  if (start < 0) throw new Error(`no location ${match}`);
  return conf.slice(start, conf.indexOf("\n    }", start));
}
