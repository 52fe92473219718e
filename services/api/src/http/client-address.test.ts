import { describe, expect, it } from "vitest";

import { addressScope } from "./client-address.js";

describe("addressScope", () => {
  it("keeps an IPv4 address, also when written IPv4-mapped", () => {
    expect(addressScope("203.0.113.7")).toBe("203.0.113.7");
    expect(addressScope("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(addressScope("::FFFF:127.0.0.1")).toBe("127.0.0.1");
  });

  it("narrows an IPv6 address to its /64, however it is written", () => {
    const scope = "2001:db8:85a3:8d3::/64";
    expect(addressScope("2001:db8:85a3:8d3:1319:8a2e:370:7348")).toBe(scope);
    expect(addressScope("2001:0DB8:85A3:08D3:0000:0000:0000:0001")).toBe(scope);
    expect(addressScope("2001:db8:85a3:8d3::1")).toBe(scope);
    expect(addressScope("2001:db8:85a3:8d3::1%eth0")).toBe(scope);
    expect(addressScope("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressScope("2001:db8:85a3:8d4::1")).not.toBe(scope);
    expect(addressScope("::1")).toBe("0:0:0:0::/64");
    expect(addressScope("64:ff9b::198.51.100.1")).toBe("64:ff9b:0:0::/64");
  });

  it("leaves anything else as it is", () => {
    expect(addressScope("unknown")).toBe("unknown");
    expect(addressScope("::ffff:999.1.1.1")).toBe("::ffff:999.1.1.1");
  });
});
