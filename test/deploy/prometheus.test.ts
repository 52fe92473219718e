/** Prometheus configuration and alert rules, checked by promtool (Debian's prometheus package). */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { ROOT } from "../../scripts/lib/paths.js";

const dir = join(ROOT, "infra/prometheus");

function promtool(...args: string[]): string {
  return execFileSync("promtool", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

describe("Prometheus configuration", () => {
  it("passes promtool check config (which also checks the rule files)", () => {
    expect(promtool("check", "config", "prometheus.yml")).toContain("SUCCESS: 5 rules found");
  });

  it("fires each alert exactly when it should (promtool test rules)", () => {
    expect(promtool("test", "rules", "alerts.test.yml")).toContain("SUCCESS");
  });
});
