// What @parley/client costs a browser app: dist/index.js bundled and minified for the browser by
// esbuild, whole (socket.io-client included) and with socket.io-client left to the app, gzipped with
// node:zlib. No zod: the REST client uses the protocol's schema-free `endpoints` (browser-safe.test.ts
// checks it). Run `npx tsc -b` first, then `node packages/client/scripts/bundle-size.mjs`.
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Bundles `entry` (an import statement) with `external` left out; minified and gzipped bytes. */
async function measure(contents, external = []) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    external,
    write: false,
    logLevel: "silent",
  });
  const code = result.outputFiles[0].contents;
  return { min: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

const everything = 'export * from "./dist/index.js";';
const rows = [
  ["the whole SDK, socket.io-client included", everything, []],
  ["the whole SDK, socket.io-client external", everything, ["socket.io-client"]],
  ["socket.io-client alone", 'export { io } from "socket.io-client";', []],
];
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log("| bundle | minified | min + gzip |");
console.log("| --- | ---: | ---: |");
for (const [name, contents, external] of rows) {
  const { min, gzip } = await measure(contents, external);
  console.log(`| ${name} | ${kb(min)} | ${kb(gzip)} |`);
}
