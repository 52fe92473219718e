/**
 * The browser build imports no Node built-in (every import of the package's sources, tests aside), and
 * its bundle leaves zod out: the server validates, and zod would triple the SDK's size.
 */
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const SRC = dirname(fileURLToPath(import.meta.url));
const NODE = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function sources(): string[] {
  return readdirSync(SRC, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") && !join(e.parentPath, e.name).includes(`${SRC}/testing/`))
    .map((e) => join(e.parentPath, e.name));
}

function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)].map((m) => m[1] ?? "");
}

describe("the browser build", () => {
  it("imports only its own modules, @parley/protocol and socket.io-client", () => {
    const files = sources();
    expect(files.length).toBeGreaterThan(20);
    const foreign = files.flatMap((file) =>
      importsOf(readFileSync(file, "utf8"))
        .filter((spec) => !spec.startsWith("./") && !spec.startsWith("../") && spec !== "@parley/protocol" && spec !== "socket.io-client")
        .map((spec) => `${file}: ${spec}`),
    );
    expect(foreign).toEqual([]);
  });

  it("imports no Node built-in (fs, crypto, node:…)", () => {
    const builtins = sources().flatMap((file) => importsOf(readFileSync(file, "utf8")).filter((spec) => NODE.has(spec)).map((spec) => `${file}: ${spec}`));
    expect(builtins).toEqual([]);
    expect(NODE.has("crypto") && NODE.has("node:fs")).toBe(true);
  });

  it("uses no Node globals (process, Buffer, require)", () => {
    const uses = sources().flatMap((file) => {
      const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
      return [...code.matchAll(/\b(process|Buffer|require|__dirname)\b\s*[.(]/g)].map((m) => `${file}: ${m[1]}`);
    });
    expect(uses).toEqual([]);
  });

  it("bundles without zod or the protocol's schemas", async () => {
    const result = await build({
      entryPoints: [join(SRC, "index.ts")],
      bundle: true,
      format: "esm",
      platform: "browser",
      external: ["socket.io-client"],
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    // What reaches the output: modules parsed and then shaken away have no bytes in it.
    const inputs = Object.values(result.metafile.outputs).flatMap((o) => Object.entries(o.inputs).filter(([, i]) => i.bytesInOutput > 0).map(([name]) => name));
    expect(inputs.some((i) => /protocol\/(src|dist)\/endpoints/.test(i))).toBe(true);
    expect(inputs.filter((i) => /node_modules\/zod\/|protocol\/(src|dist)\/(schemas|routes|responses|openapi)/.test(i))).toEqual([]);
  });
});
