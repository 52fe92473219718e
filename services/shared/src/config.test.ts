import { describe, expect, it } from "vitest";
import { z } from "zod";

import { ConfigError, allowedOrigins, loadConfig, originListVar, publicUrlConfigShape } from "./config.js";

const schema = z.object({ ...publicUrlConfigShape, ORIGINS: originListVar.optional() });
const load = (env: Record<string, string>) => loadConfig(schema, env);

/** The lines of the ConfigError that loading `env` throws, one per problem. */
function problems(env: Record<string, string>): string[] {
  expect(() => load(env)).toThrow(ConfigError);
  return (() => {
    try {
      load(env);
      return "";
    } catch (err) {
      return (err as ConfigError).message;
    }
  })()
    .split("\n")
    .slice(1)
    .map((line) => line.replace(/^ {2}- /, ""));
}

describe("PUBLIC_URL and origin lists", () => {
  it("default to the local public origin, which every unset list then allows", () => {
    const config = load({});
    expect(config).toEqual({ PUBLIC_URL: "http://localhost:8080" });
    expect([...allowedOrigins(config.ORIGINS, config.PUBLIC_URL)]).toEqual(["http://localhost:8080"]);
  });

  it("normalise origins as browsers send them", () => {
    const config = load({ PUBLIC_URL: "HTTPS://Chat.Example.com:443/", ORIGINS: " https://chat.example.com , http://LOCALHOST:5173,https://chat.example.com:443" });
    expect(config.PUBLIC_URL).toBe("https://chat.example.com");
    expect(config.ORIGINS).toEqual(["https://chat.example.com", "http://localhost:5173"]);
    expect([...allowedOrigins(config.ORIGINS, config.PUBLIC_URL)]).toEqual(["https://chat.example.com", "http://localhost:5173"]);
    expect(load({ ORIGINS: "http://[::1]:8080,http://127.0.0.1:8080" }).ORIGINS).toEqual(["http://[::1]:8080", "http://127.0.0.1:8080"]);
  });

  it.each([
    ["*", /"\*" is not allowed/],
    ["https://chat.example.com/app", /not an http\(s\):\/\/host\[:port\] origin/],
    ["https://chat.example.com?x=1", /not an http\(s\):\/\/host\[:port\] origin/],
    ["https://user:pw@chat.example.com", /not an http\(s\):\/\/host\[:port\] origin/],
    ["ftp://chat.example.com", /not an http\(s\):\/\/host\[:port\] origin/],
    ["chat.example.com", /not an http\(s\):\/\/host\[:port\] origin/],
    ["https:chat.example.com", /not an http\(s\):\/\/host\[:port\] origin/],
    ["https://chat.example.com:99999", /not an http\(s\):\/\/host\[:port\] origin/],
    [" , ", /must list at least one origin/],
  ])("refuse %j in a list, naming the variable", (value, message) => {
    const found = problems({ ORIGINS: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^ORIGINS: /);
    expect(found[0]).toMatch(message);
  });

  it("refuse a PUBLIC_URL that is not an http(s) origin, and report every bad entry of a list", () => {
    expect(problems({ PUBLIC_URL: "https://chat.example.com/path" })).toEqual([expect.stringMatching(/^PUBLIC_URL: /)]);
    expect(problems({ PUBLIC_URL: "*" })).toEqual([expect.stringMatching(/^PUBLIC_URL: "\*" is not allowed/)]);
    expect(problems({ ORIGINS: "https://ok.example,*,https://x.example/y" })).toHaveLength(2);
  });
});
