/**
 * The user documentation against the code: the README's configuration tables name exactly the
 * variables the services and `npm start` read, with their defaults; its commands exist; and every
 * relative link of the README, CHANGELOG.md and docs/ reaches a file (and a heading, for an anchor).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

import { describe, expect, it } from "vitest";

import { loadConfig } from "@parley/shared/config";

import { ROOT } from "../../scripts/lib/paths.js";
import { anchors, codeSpans, linkTargets, section, tableRows } from "../helpers/markdown.js";
import { SERVICE_SCHEMAS, variablesOf, type ServiceName } from "../helpers/service-config.js";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const SERVICES = Object.keys(SERVICE_SCHEMAS) as ServiceName[];

interface ConfigRow {
  names: string[];
  services: ServiceName[];
  defaults: string;
  meaning: string;
}

/** The rows of the README's service configuration table, with `RATE_LIMIT_<ACTION>_*` expanded. */
function configRows(): ConfigRow[] {
  return tableRows(section(readme, "Configuration")).map(([variables = "", services = "", defaults = "", meaning = ""]) => {
    let names = codeSpans(variables);
    if (names.some((name) => name.includes("<ACTION>"))) {
      const actions = codeSpans(meaning).filter((span) => /^[A-Z_]+$/.test(span));
      names = actions.flatMap((action) => [`RATE_LIMIT_${action}_RATE`, `RATE_LIMIT_${action}_BURST`]);
    }
    const listed = services === "all" ? SERVICES : (services.split(", ") as ServiceName[]);
    return { names, services: listed, defaults, meaning };
  });
}

/** What each service makes of an environment holding only what it requires. */
function defaultsOf(service: ServiceName): Record<string, unknown> {
  return loadConfig(SERVICE_SCHEMAS[service], { JWT_SECRET: "x".repeat(32) }) as Record<string, unknown>;
}

describe("README, Configuration", () => {
  const rows = configRows();

  it("names every variable a service reads, once, and none that no service reads", () => {
    const documented = rows.flatMap((row) => row.names);
    const read = new Set(SERVICES.flatMap(variablesOf));
    expect(documented.filter((name, i) => documented.indexOf(name) !== i)).toEqual([]);
    expect([...read].filter((name) => !documented.includes(name))).toEqual([]);
    expect(documented.filter((name) => !read.has(name))).toEqual([]);
  });

  it("says which services read each variable", () => {
    for (const row of rows) {
      for (const name of row.names) {
        const readers = SERVICES.filter((service) => variablesOf(service).includes(name));
        expect(row.services, name).toEqual(readers);
      }
    }
  });

  it("gives each variable's default as the services apply it", () => {
    const checked: string[] = [];
    for (const row of rows) {
      // One default per variable, as code (`25000`, `20000`) or per service (3000 / 4000 / 4100, in the
      // order gateway / api / worker); prose and placeholders are not compared.
      const values = row.defaults.split(", ").map((part) => {
        const perService = /^(\d+) \/ (\d+) \/ (\d+)$/.exec(part);
        if (perService) return (service: ServiceName) => perService[SERVICES.indexOf(service) + 1];
        const code = /^`([^`<]+)`$/.exec(part)?.[1];
        return code === undefined ? undefined : () => code;
      });
      if (values.length !== row.names.length) continue;
      for (const [i, name] of row.names.entries()) {
        const expected = values[i];
        if (!expected) continue;
        for (const service of row.services) expect(String(defaultsOf(service)[name]), `${name} (${service})`).toBe(expected(service));
        checked.push(name);
      }
    }
    expect(checked.length).toBeGreaterThan(30);
  });

  it("gives each rate limit's default rate and burst", () => {
    const row = rows.find((r) => r.names.includes("RATE_LIMIT_MESSAGE_RATE"))!;
    const pairs = [...row.meaning.matchAll(/`([A-Z_]+)`[^(`]*\(([\d.]+)\/(\d+)\)/g)];
    expect(pairs.length * 2).toBe(row.names.length);
    const config = defaultsOf("api");
    for (const [, action, rate, burst] of pairs) {
      expect(Number(config[`RATE_LIMIT_${action}_RATE`]), `${action} rate`).toBeCloseTo(Number(rate), 3);
      expect(config[`RATE_LIMIT_${action}_BURST`], `${action} burst`).toBe(Number(burst));
    }
  });

  it("lists exactly the variables npm start reads", () => {
    const start = readFileSync(join(ROOT, "scripts/start.ts"), "utf8");
    const read = /const \{ ([A-Z0-9_, ]+) \} = env\.data;/.exec(start)?.[1]?.split(", ");
    const documented = tableRows(section(readme, "Quick start")).flatMap(([name = ""]) => codeSpans(name));
    expect(documented.sort()).toEqual(read?.sort());
  });
});

describe("README, commands", () => {
  it("gives `npm test` as the test command, which is what CI runs", () => {
    expect(section(readme, "Tests")).toMatch(/^```sh\nnpm test\n```$/m);
    expect(readFileSync(join(ROOT, ".ci/run"), "utf8")).toMatch(/^exec npm test$/m);
  });

  it("names only npm scripts that exist", () => {
    const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: object }).scripts);
    const used = [...readme.matchAll(/npm run ([a-z:-]+)/g)].map((m) => m[1]!);
    expect(used.length).toBeGreaterThan(3);
    expect(used.filter((name) => !scripts.includes(name))).toEqual([]);
  });

  it("lists every load scenario, and runs only those", () => {
    const scenarios = readdirSync(join(ROOT, "load-tests/scenarios")).map((file) => file.replace(/\.js$/, ""));
    const table = tableRows(section(readme, "Load tests")).map(([name = ""]) => codeSpans(name)[0]);
    const run = [...section(readme, "Load tests").matchAll(/npm run load -- (\w+)/g)].map((m) => m[1]);
    expect(table.sort()).toEqual(scenarios.sort());
    expect(run.filter((name) => !scenarios.includes(name!))).toEqual([]);
  });
});

describe("links", () => {
  const documents = ["README.md", "CHANGELOG.md", "SECURITY.md", "packages/client/README.md", "packages/protocol/README.md", "packages/web/README.md", "examples/echo-bot/README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

  it.each(documents)("of %s reach a file, and a heading for an anchor", (document) => {
    const broken: string[] = [];
    const text = readFileSync(join(ROOT, document), "utf8");
    for (const target of linkTargets(text)) {
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const [path = "", anchor] = target.split("#");
      const file = path === "" ? join(ROOT, document) : join(ROOT, dirname(document), path);
      if (!existsSync(file)) {
        broken.push(target);
        continue;
      }
      if (anchor !== undefined && !(file.endsWith(".md") && statSync(file).isFile() && anchors(readFileSync(file, "utf8")).has(anchor))) {
        broken.push(target);
      }
    }
    expect(broken).toEqual([]);
  });
});
