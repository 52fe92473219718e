/**
 * Architecture rules the compiler does not enforce: no circular imports (within a service or across
 * features), features of the gateway never import one another, the packages a browser loads
 * (`@parley/protocol`, `@parley/client`) import nothing server-side, and the web app reaches parley
 * only through the SDK.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import madge from "madge";
import { describe, expect, it } from "vitest";

import { ROOT } from "../scripts/lib/paths.js";

const SERVICES = ["shared", "gateway", "api", "worker"];

/** Every module specifier a TypeScript file imports or re-exports, dynamic imports included. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)].map((m) => m[1] ?? "");
}

/** The import cycles among the non-test TypeScript files of package `dir` (with its tsconfig). */
async function cyclesOf(dir: string, fileExtensions = ["ts"]): Promise<string[][]> {
  const graph = await madge(join(dir, "src"), { fileExtensions, excludeRegExp: [/\.test\.ts$/], tsConfig: join(dir, "tsconfig.json") });
  return graph.circular();
}

/** The non-test TypeScript files (and TSX ones, with `tsx`) under `dir`, recursively. */
function sourcesUnder(dir: string, { tsx = false } = {}): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && (e.name.endsWith(".ts") || (tsx && e.name.endsWith(".tsx"))) && !e.name.endsWith(".test.ts"))
    .map((e) => join(e.parentPath, e.name));
}

describe("imports", () => {
  it.each(SERVICES)("of services/%s have no cycles", async (service) => {
    expect(await cyclesOf(join(ROOT, "services", service))).toEqual([]);
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

describe("the protocol package", () => {
  const dir = join(ROOT, "packages/protocol");

  it("depends on zod alone", () => {
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    expect(Object.keys(manifest.dependencies ?? {})).toEqual(["zod"]);
  });

  it("imports nothing but zod and its own modules", () => {
    const foreign = sourcesUnder(join(dir, "src")).flatMap((file) =>
      importsOf(readFileSync(file, "utf8"))
        .filter((spec) => spec !== "zod" && !spec.startsWith("./"))
        .map((spec) => `${file}: ${spec}`),
    );
    expect(foreign).toEqual([]);
  });

  it("has no import cycles", async () => {
    expect(await cyclesOf(dir)).toEqual([]);
  });
});

describe("the client package", () => {
  const dir = join(ROOT, "packages/client");

  it("depends on @parley/protocol and socket.io-client alone", () => {
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual(["@parley/protocol", "socket.io-client"]);
  });

  it("has no import cycles", async () => {
    expect(await cyclesOf(dir)).toEqual([]);
  });
});

describe("the web app", () => {
  const dir = join(ROOT, "packages/web");
  const sources = () => sourcesUnder(join(dir, "src"), { tsx: true }).map((file) => ({ file, text: readFileSync(file, "utf8") }));

  it("reaches parley only through @parley/client: no socket, fetch or package of its own", () => {
    const allowed = new Set(["react", "react-dom/client", "@parley/client", "@parley/protocol"]);
    const foreign = sources().flatMap(({ file, text }) =>
      importsOf(text)
        .filter((spec) => !spec.startsWith("./") && !spec.startsWith("../") && !allowed.has(spec))
        .map((spec) => `${file}: ${spec}`),
    );
    expect(foreign).toEqual([]);
    const network = sources().filter(({ text }) => /\bfetch\s*\(|\b(XMLHttpRequest|WebSocket|EventSource)\b/.test(text));
    expect(network.map(({ file }) => file)).toEqual([]);
  });

  it("takes only types and the protocol version from @parley/protocol, which keeps zod out of its bundle", () => {
    const values = sources().flatMap(({ text }) =>
      [...text.matchAll(/import \{([^}]*)\} from "@parley\/protocol"/g)].flatMap((m) =>
        (m[1] ?? "").split(",").map((name) => name.trim()).filter((name) => name && !name.startsWith("type ")),
      ),
    );
    expect([...new Set(values)]).toEqual(["PROTOCOL_VERSION"]);
  });

  it("has no import cycles", async () => {
    expect(await cyclesOf(dir, ["ts", "tsx"])).toEqual([]);
  });
});
