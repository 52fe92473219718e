import { describe, expect, it } from "vitest";

import { isDuplicateKeyError, isDuplicateKeyOnly } from "./mongo-errors.js";

describe("isDuplicateKeyError", () => {
  it("is true for code 11000 only", () => {
    expect(isDuplicateKeyError({ code: 11000 })).toBe(true);
    expect(isDuplicateKeyError({ code: 11001 })).toBe(false);
    expect(isDuplicateKeyError(new Error("E11000"))).toBe(false);
    expect(isDuplicateKeyError(undefined)).toBe(false);
  });
});

describe("isDuplicateKeyOnly", () => {
  it("recognises MongoDB bulk write errors and FerretDB command errors", () => {
    expect(isDuplicateKeyOnly({ code: 11000, writeErrors: [{ code: 11000 }, { code: 11000 }] })).toBe(true);
    expect(isDuplicateKeyOnly({ code: 11000, writeErrors: { code: 11000 } })).toBe(true);
    expect(isDuplicateKeyOnly({ code: 11000 })).toBe(true);
  });

  it("rejects anything else", () => {
    expect(isDuplicateKeyOnly({ code: 11000, writeErrors: [{ code: 11000 }, { code: 121 }] })).toBe(false);
    expect(isDuplicateKeyOnly({ code: 64, writeErrors: [] })).toBe(false);
    expect(isDuplicateKeyOnly({ code: 89 })).toBe(false);
    expect(isDuplicateKeyOnly(new Error("connection refused"))).toBe(false);
    expect(isDuplicateKeyOnly(null)).toBe(false);
  });
});
