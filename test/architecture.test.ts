/**
 * Architecture rules the compiler does not enforce: no circular imports (within a service or across
 * features), and features of the gateway never import one another.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import madge from "madge";
import { describe, expect, it } from "vitest";

import { ROOT } from "../scripts/lib/paths.js";

const SERVICES = ["shared", "gateway", "api", "worker"];

describe("imports", () => {
  it.each(SERVICES)("of services/%s have no cycles", async (service) => {
    const graph = await madge(join(ROOT, "services", service, "src"), {
      fileExtensions: ["ts"],
      excludeRegExp: [/\.test\.ts$/],
      tsConfig: join(ROOT, "services", service, "tsconfig.json"),
    });
    expect(graph.circular()).toEqual([]);
  });

  it("of a gateway feature never reach into another feature", () => {
    const src = join(ROOT, "services/gateway/src");
    const features = readdirSync(src, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !["lib"].includes(e.name))
      .map((e) => e.name);
    const crossings: string[] = [];
    for (const feature of features) {
      for (const file of readdirSync(join(src, feature)).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))) {
        const text = readFileSync(join(src, feature, file), "utf8");
        for (const [, target] of text.matchAll(/from "\.\.\/([a-z-]+)\//g)) {
          if (target !== "lib" && target !== feature) crossings.push(`${feature}/${file} → ${target}`);
        }
      }
    }
    expect(crossings).toEqual([]);
  });
});
