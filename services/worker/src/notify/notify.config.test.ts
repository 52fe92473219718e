/** The notification settings inside the worker's configuration. */
import { describe, expect, it } from "vitest";

import { ConfigError, loadConfig } from "@parley/shared/config";

import { workerConfigSchema } from "../config.js";

const load = (env: Record<string, string>) => loadConfig(workerConfigSchema, env);

function problems(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("notification settings", () => {
  it("are disabled by default, with a timeout and a concurrency", () => {
    const config = load({});
    expect(config.NOTIFY_WEBHOOK_URL).toBeUndefined();
    expect(config.NOTIFY_WEBHOOK_TIMEOUT_MS).toBe(5_000);
    expect(config.NOTIFY_CONCURRENCY).toBe(16);
  });

  it("accept a webhook URL with a secret of at least 16 characters", () => {
    const config = load({
      NOTIFY_WEBHOOK_URL: "https://hooks.example.com/parley",
      NOTIFY_WEBHOOK_SECRET: "0123456789abcdef",
      NOTIFY_WEBHOOK_TIMEOUT_MS: "1500",
      NOTIFY_CONCURRENCY: "4",
    });
    expect(config).toMatchObject({ NOTIFY_WEBHOOK_URL: "https://hooks.example.com/parley", NOTIFY_WEBHOOK_TIMEOUT_MS: 1500, NOTIFY_CONCURRENCY: 4 });
  });

  it("require the secret when a URL is set, and name every problem without echoing the secret", () => {
    expect(problems({ NOTIFY_WEBHOOK_URL: "https://hooks.example.com/" })).toEqual([
      "NOTIFY_WEBHOOK_SECRET: is required when NOTIFY_WEBHOOK_URL is set",
    ]);
    const found = problems({ NOTIFY_WEBHOOK_URL: "https://hooks.example.com/", NOTIFY_WEBHOOK_SECRET: "too-short-secret".slice(0, 12), PERSIST_BATCH_SIZE: "0" });
    expect(found).toHaveLength(2);
    expect(found.join("\n")).toMatch(/PERSIST_BATCH_SIZE[\s\S]*NOTIFY_WEBHOOK_SECRET: must be at least 16 characters/);
    expect(found.join("\n")).not.toContain("too-short-se");
  });

  it("refuse URLs that are not http(s), and nonsense numbers", () => {
    expect(problems({ NOTIFY_WEBHOOK_URL: "ftp://hooks.example.com/", NOTIFY_WEBHOOK_SECRET: "0123456789abcdef" })[0]).toMatch(/^NOTIFY_WEBHOOK_URL: /);
    expect(problems({ NOTIFY_WEBHOOK_URL: "not a url", NOTIFY_WEBHOOK_SECRET: "0123456789abcdef" })[0]).toMatch(/^NOTIFY_WEBHOOK_URL: /);
    expect(problems({ NOTIFY_WEBHOOK_TIMEOUT_MS: "10", NOTIFY_CONCURRENCY: "0" }).map((p) => p.split(":")[0])).toEqual([
      "NOTIFY_WEBHOOK_TIMEOUT_MS",
      "NOTIFY_CONCURRENCY",
    ]);
  });
});
