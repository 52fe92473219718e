/**
 * `GET /api/docs`, the reference page, on the real API: its headers, every file it references served by
 * the API itself, and the page in headless Chromium, which renders the operations without a single
 * request to another origin and without a CSP violation.
 */
import { describe, expect, it } from "vitest";

import { routes } from "@parley/protocol";

import { withChromiumPage } from "../../../../scripts/lib/chromium.js";
import { useApi } from "../testing/api-harness.js";
import { DOCS_PATHS, docsPageCsp } from "./docs.routes.js";

const api = useApi("docs-page");

/** The `src` of every script and the `href` of every link of `html`. */
function referencedFiles(html: string): string[] {
  return [...html.matchAll(/<(?:script|link)\b[^>]*?\s(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
}

describe("GET /api/docs", () => {
  it("serves a page whose scripts, styles and icons all come from the API, under a CSP of its own", async () => {
    const res = await fetch(`${api.baseUrl}${DOCS_PATHS.page}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toBe(docsPageCsp(api.config.PUBLIC_URL));
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toMatch(/unsafe-|\*/);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const html = await res.text();
    expect(html).not.toMatch(/<script>|<style|\sstyle=|\son\w+=/);

    const files = referencedFiles(html);
    expect(files).toEqual(expect.arrayContaining([`${DOCS_PATHS.assets}/swagger-ui-bundle.js`, `${DOCS_PATHS.assets}/swagger-ui.css`, DOCS_PATHS.script]));
    for (const file of files) {
      expect(file, file).toMatch(/^\/api\/docs\//);
      const asset = await fetch(`${api.baseUrl}${file}`);
      expect(asset.status, file).toBe(200);
      const type = asset.headers.get("content-type") ?? "";
      if (file.endsWith(".js")) expect(type, file).toMatch(/javascript/);
      if (file.endsWith(".css")) expect(type, file).toMatch(/^text\/css/);
      expect((await asset.arrayBuffer()).byteLength, file).toBeGreaterThan(0);
    }
    expect(await (await fetch(`${api.baseUrl}${DOCS_PATHS.script}`)).text()).toContain("validatorUrl: null");

    // The API's own answers keep the strict policy.
    expect((await api.request("GET", DOCS_PATHS.document)).headers.get("content-security-policy")).toBe("default-src 'none';frame-ancestors 'none'");
  });

  it("serves none of the package's other files, and nothing outside it", async () => {
    for (const path of ["index.html", "swagger-initializer.js", "package.json", "..%2Fpackage.json", "%2E%2E%2F%2E%2E%2Fpackage.json", ".bin"]) {
      const res = await api.request("GET", `${DOCS_PATHS.assets}/${path}`);
      expect(res.status, path).toBe(404);
      expect(res.body.error.code, path).toBe("NOT_FOUND");
    }
  });

  it("renders every operation in Chromium, loading nothing from another origin, with no CSP violation or error", async () => {
    const origin = new URL(api.baseUrl).origin;
    const requests: string[] = [];
    const problems: string[] = [];
    const operations = await withChromiumPage(async (page) => {
      page.on("request", (request) => void requests.push(request.url()));
      page.on("console", (message) => {
        if (message.type() === "error" || message.type() === "warning") problems.push(`${message.type()}: ${message.text()}`);
      });
      page.on("pageerror", (error) => void problems.push(`pageerror: ${error.message}`));
      await page.addInitScript({
        content: 'document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));',
      });
      const answer = await page.goto(`${api.baseUrl}${DOCS_PATHS.page}`, { waitUntil: "load" });
      expect(answer?.status()).toBe(200);
      await page.getByText("conversations.list", { exact: true }).waitFor({ timeout: 20_000 });
      await page.getByText("The caller's conversations, most recent activity first", { exact: false }).first().waitFor({ timeout: 5_000 });
      // Open one operation: its parameters and its answers' schemas render from the components.
      await page.getByText("messages.history", { exact: true }).click();
      await page.getByText("Most messages in the page.", { exact: false }).first().waitFor({ timeout: 5_000 });
      await page.getByText('"nextBefore"', { exact: false }).first().waitFor({ timeout: 5_000 });
      return page.locator(".opblock-summary-operation-id").allTextContents();
    });

    expect(operations.length).toBe(Object.keys(routes).length);
    expect(operations).toContain("account.export");
    expect(requests).toContain(`${origin}${DOCS_PATHS.document}`);
    const elsewhere = requests.filter((url) => !url.startsWith("data:") && new URL(url).origin !== origin);
    expect(elsewhere).toEqual([]);
    expect(problems).toEqual([]);
  }, 60_000);
});
