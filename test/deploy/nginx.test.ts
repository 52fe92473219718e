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
import { ROOT } from "../../scripts/lib/paths.js";
import { testDir } from "../helpers/env.js";

const conf = readFileSync(join(ROOT, "nginx.conf"), "utf8");

describe("nginx.conf", () => {
  it("passes nginx -t", () => {
    const dir = testDir("nginx-t");
    writeFileSync(join(dir, "hosts"), "127.0.0.1 localhost gateway api\n");
    // nginx's stderr goes to a file: the config logs to /dev/stderr, which cannot be opened when it is a
    // Unix socket (Node's stdio pipes are; Docker's are FIFOs, which can).
    const output = join(dir, "nginx-t.out");
    execFileSync(
      "unshare",
      ["--mount", "sh", "-c", `mount --bind "${join(dir, "hosts")}" /etc/hosts && exec nginx -t -c "${join(ROOT, "nginx.conf")}" 2>"${output}"`],
      { stdio: "ignore", env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } },
    );
    expect(readFileSync(output, "utf8")).toContain("test is successful");
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

/** The body of the `location <match> { … }` block. */
function locationBlock(match: string): string {
  const start = conf.indexOf(`location ${match} {`);
  if (start < 0) throw new Error(`no location ${match}`);
  return conf.slice(start, conf.indexOf("\n    }", start));
}
