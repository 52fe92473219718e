/**
 * What nginx tells the services about the client, and whom it counts: the real nginx, configured from
 * nginx.conf as the local cluster is, in front of an HTTP server that echoes the forwarding headers it
 * receives. Once as shipped (nginx at the edge, trusting no one), once as behind a load balancer on
 * 127.0.0.1 (the setup nginx.conf's comment describes). And how it serves the web app's files.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startNginx, type LocalNginxOptions } from "../../scripts/lib/nginx.js";
import { freePort } from "../../scripts/lib/ports.js";
import type { ManagedProcess } from "../../scripts/lib/process.js";
import { testDir } from "../helpers/env.js";

/** An auth burst of two, so that a third request from one address within a minute is refused. */
const LIMITS = { auth: { rate: "1r/m", burst: 2 } } as const;

let echo: Server;
const started: ManagedProcess[] = [];

beforeAll(async () => {
  echo = createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ forwardedFor: req.headers["x-forwarded-for"] ?? null, forwardedProto: req.headers["x-forwarded-proto"] ?? null }));
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  for (const nginx of started) await nginx.stop("SIGQUIT", 5_000);
  echo?.closeAllConnections();
  await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
});

/** nginx on a free port in front of the echo server (as gateway and API); its base URL. */
async function nginxInFront(options: LocalNginxOptions): Promise<string> {
  const echoPort = (echo.address() as AddressInfo).port;
  const port = await freePort();
  const dir = testDir("nginx-proxy");
  started.push(await startNginx({ gateways: [{ route: "g0", port: echoPort }], apiPort: echoPort }, port, join(dir, "nginx"), options));
  return `http://127.0.0.1:${port}`;
}

interface Seen {
  status: number;
  forwardedFor: string | null;
  forwardedProto: string | null;
}

async function call(base: string, path: string, headers: Record<string, string>): Promise<Seen> {
  const res = await fetch(`${base}${path}`, { method: path.startsWith("/api/auth/") ? "POST" : "GET", headers });
  const body = (await res.json()) as Partial<Seen>;
  return { status: res.status, forwardedFor: body.forwardedFor ?? null, forwardedProto: body.forwardedProto ?? null };
}

describe("nginx at the edge, as shipped", () => {
  let base: string;
  beforeAll(async () => {
    base = await nginxInFront({ limits: LIMITS });
  });

  it("passes the TCP peer and its own scheme, whatever the client claims", async () => {
    for (const path of ["/api/users/me", "/socket.io/?EIO=4&transport=polling", "/readyz"]) {
      const seen = await call(base, path, { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https" });
      expect(seen, path).toEqual({ status: 200, forwardedFor: "127.0.0.1", forwardedProto: "http" });
    }
  });

  it("counts every request from the peer as one address, however it names itself", async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await call(base, "/api/auth/login", { "x-forwarded-for": `203.0.113.${i}` })).status);
    expect(answers).toEqual([200, 200, 200, 429]);
  });
});

describe("nginx behind a trusted load balancer", () => {
  let base: string;
  beforeAll(async () => {
    base = await nginxInFront({ limits: LIMITS, trustedProxies: ["127.0.0.1"] });
  });

  it("passes the client address and scheme the load balancer reports", async () => {
    for (const path of ["/api/users/me", "/socket.io/?EIO=4&transport=polling", "/readyz"]) {
      // What a client put in X-Forwarded-For itself stays on the left, untrusted: the balancer appended the address it saw.
      const seen = await call(base, path, { "x-forwarded-for": "198.51.100.1, 203.0.113.9", "x-forwarded-proto": "https" });
      expect(seen, path).toEqual({ status: 200, forwardedFor: "203.0.113.9", forwardedProto: "https" });
    }
    expect(await call(base, "/api/users/me", { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "http" })).toMatchObject({ forwardedProto: "http" });
    expect(await call(base, "/api/users/me", { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "gopher" })).toMatchObject({ forwardedProto: "http" });
  });

  it("counts each client address on its own", async () => {
    const from = async (address: string) => (await call(base, "/api/auth/login", { "x-forwarded-for": address })).status;
    const first = [await from("192.0.2.1"), await from("192.0.2.1"), await from("192.0.2.1"), await from("192.0.2.1")];
    expect(first).toEqual([200, 200, 200, 429]);
    expect(await from("192.0.2.2")).toBe(200);
  });
});

describe("nginx serving the web app", () => {
  const index = '<!doctype html><script type="module" src="/assets/index-0a1b2c3d.js"></script>';
  const script = `console.log(${JSON.stringify("parley ".repeat(200))});`;
  let base: string;
  beforeAll(async () => {
    const webRoot = testDir("nginx-web");
    mkdirSync(join(webRoot, "assets"), { recursive: true });
    writeFileSync(join(webRoot, "index.html"), index);
    writeFileSync(join(webRoot, "assets", "index-0a1b2c3d.js"), script);
    base = await nginxInFront({ webRoot, objectStoreOrigins: ["http://127.0.0.1:9000"] });
  });

  it("answers index.html for / and every path the app routes itself, never from a cache, with its policy", async () => {
    for (const path of ["/", "/index.html", "/conversations/0123456789abcdef01234567"]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toBe(index);
      expect(res.headers.get("content-type"), path).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control"), path).toBe("no-cache");
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, path).toContain("script-src 'self';");
      for (const directive of ["img-src", "media-src", "connect-src"]) expect(csp, path).toMatch(new RegExp(`${directive} 'self'[^;]* http://127\\.0\\.0\\.1:9000;`));
    }
  });

  it("serves the hashed assets with their type, compressed, cached for a year; a missing one is 404", async () => {
    const res = await fetch(`${base}/assets/index-0a1b2c3d.js`, { headers: { "accept-encoding": "gzip" } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(script);
    expect(res.headers.get("content-type")).toBe("application/javascript; charset=utf-8");
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect((await fetch(`${base}/assets/index-ffffffff.js`)).status).toBe(404);
  });

  it("leaves /api/, /socket.io/ and /readyz to the services", async () => {
    for (const path of ["/api/users/me", "/socket.io/?EIO=4&transport=polling", "/readyz"]) {
      expect(await call(base, path, {}), path).toEqual({ status: 200, forwardedFor: "127.0.0.1", forwardedProto: "http" });
    }
  });
});
