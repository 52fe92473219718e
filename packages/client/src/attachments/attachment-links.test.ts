import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { FakeApi } from "../testing/harness.js";
import { AttachmentLinks } from "./attachment-links.js";

beforeEach(() => void vi.useFakeTimers({ now: 1_700_000_000_000 }));
afterEach(() => void vi.useRealTimers());

const ID = "0123456789abcdef01234567";

describe("attachment download URLs", () => {
  it("are asked once by concurrent callers, per attachment and variant", async () => {
    const api = new FakeApi();
    api.holdLinks = true;
    const links = new AttachmentLinks(api);
    const a = links.url(ID);
    const b = links.url(ID, { variant: "original" });
    const thumb = links.url(ID, { variant: "thumbnail" });
    expect(api.linkCalls).toEqual([
      { id: ID, variant: "original" },
      { id: ID, variant: "thumbnail" },
    ]);
    for (const held of api.heldLinks) held.resolve();
    const [urlA, urlB, urlThumb] = await Promise.all([a, b, thumb]);
    expect(urlA).toBe(urlB);
    expect(urlThumb).not.toBe(urlA);
    expect(urlThumb).toMatch(/thumbnail/);
  });

  it("are cached until shortly before they expire", async () => {
    const api = new FakeApi();
    api.linkTtlMs = 300_000;
    const links = new AttachmentLinks(api);
    const first = await links.url(ID);
    vi.advanceTimersByTime(269_999);
    expect(await links.url(ID)).toBe(first);
    expect(api.linkCalls).toHaveLength(1);
    vi.advanceTimersByTime(1);
    const second = await links.url(ID);
    expect(second).not.toBe(first);
    expect(api.linkCalls).toHaveLength(2);

    // A link that lives only 20 s is asked again after half of that.
    api.linkTtlMs = 20_000;
    const short = await links.url(`${ID.slice(0, -1)}8`);
    vi.advanceTimersByTime(9_999);
    expect(await links.url(`${ID.slice(0, -1)}8`)).toBe(short);
    vi.advanceTimersByTime(1);
    expect(await links.url(`${ID.slice(0, -1)}8`)).not.toBe(short);
  });

  it("are not cached when the request fails", async () => {
    const api = new FakeApi();
    api.holdLinks = true;
    const links = new AttachmentLinks(api);
    const refused = links.url(ID);
    const alsoRefused = links.url(ID);
    api.heldLinks[0]?.reject(Object.assign(new Error("Attachment not found"), { code: "NOT_FOUND" }));
    await expect(refused).rejects.toThrow("Attachment not found");
    await expect(alsoRefused).rejects.toThrow("Attachment not found");
    api.holdLinks = false;
    expect(await links.url(ID)).toMatch(/n=2$/);
  });
});
