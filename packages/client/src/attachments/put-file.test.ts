import { describe, expect, it } from "vitest";

import { exposedHeader } from "./put-file.js";

describe("exposedHeader", () => {
  it("finds a header of getAllResponseHeaders() by its lower-case name, whatever its case there", () => {
    const all = "content-length: 0\r\nRetry-After: 3\r\netag: \"abc\"\r\n";
    expect(exposedHeader(all, "retry-after")).toBe("3");
    expect(exposedHeader(all, "etag")).toBe('"abc"');
  });

  it("answers null for a header not listed (one CORS does not expose), and for no headers", () => {
    expect(exposedHeader("content-length: 0\r\n", "retry-after")).toBeNull();
    expect(exposedHeader("", "retry-after")).toBeNull();
  });
});
