/**
 * The k6 scripts announce the protocol version in plain JavaScript (load-tests/lib/protocol.js): it
 * must be the one of `@parley/protocol`, or every load-test socket would speak another version than
 * the servers they test.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { describe, expect, it } from "vitest";

import { PROTOCOL_VERSION } from "@parley/protocol";

import { ROOT } from "../../scripts/lib/paths.js";

interface K6Protocol {
  PROTOCOL_VERSION: string;
  handshakeAuth(token: string): Record<string, unknown>;
}

describe("the k6 scripts' protocol version", () => {
  it("is PROTOCOL_VERSION, and every handshake sends it", async () => {
    const k6 = (await import(pathToFileURL(join(ROOT, "load-tests/lib/protocol.js")).href)) as K6Protocol;
    expect(k6.PROTOCOL_VERSION).toBe(PROTOCOL_VERSION);
    expect(k6.handshakeAuth("t")).toEqual({ token: "t", protocol: PROTOCOL_VERSION });
  });
});
