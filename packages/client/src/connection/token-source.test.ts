import { describe, expect, it, vi } from "vitest";

import { ParleyError } from "../errors.js";
import { createTokenSource, DisposedError } from "./token-source.js";

/** A provider whose calls the test resolves one by one. */
function manual() {
  const calls: { resolve: (t: string) => void; reject: (e: unknown) => void }[] = [];
  const provider = vi.fn((_hint?: { expired?: string }) => new Promise<string>((resolve, reject) => calls.push({ resolve, reject })));
  return { provider, calls };
}

describe("the token source", () => {
  it("is single-flight: concurrent callers share one call", async () => {
    const { provider, calls } = manual();
    const tokens = createTokenSource(provider);
    const a = tokens.get();
    const b = tokens.get();
    await Promise.resolve();
    expect(provider).toHaveBeenCalledTimes(1);
    calls[0]?.resolve("t1");
    expect(await a).toBe("t1");
    expect(await b).toBe("t1");
    // Once settled, the next call asks again (the provider caches, not the SDK).
    const c = tokens.get();
    await Promise.resolve();
    expect(provider).toHaveBeenCalledTimes(2);
    calls[1]?.resolve("t2");
    expect(await c).toBe("t2");
  });

  it("drops the result of a superseded call: its callers get the newer one", async () => {
    const { provider, calls } = manual();
    const tokens = createTokenSource(provider);
    const old = tokens.get();
    await Promise.resolve();
    tokens.invalidate("stale");
    const fresh = tokens.get();
    await Promise.resolve();
    expect(provider).toHaveBeenCalledTimes(2);
    calls[1]?.resolve("new");
    calls[0]?.resolve("stale");
    expect(await old).toBe("new");
    expect(await fresh).toBe("new");
    // The provider is told which token was refused, once.
    expect(provider.mock.calls).toEqual([[undefined], [{ expired: "stale" }]]);
    // Nothing in flight: nothing to supersede; the next call carries the hint.
    tokens.invalidate("new");
    expect(provider).toHaveBeenCalledTimes(2);
    const next = tokens.get();
    await Promise.resolve();
    await Promise.resolve();
    calls[2]?.resolve("newer");
    expect(await next).toBe("newer");
    expect(provider.mock.calls[2]).toEqual([{ expired: "new" }]);
  });

  it("drops a result that arrives after dispose", async () => {
    const { provider, calls } = manual();
    const tokens = createTokenSource(provider);
    const pending = tokens.get();
    await Promise.resolve();
    tokens.dispose();
    calls[0]?.resolve("late");
    await expect(pending).rejects.toBeInstanceOf(DisposedError);
    await expect(tokens.get()).rejects.toBeInstanceOf(DisposedError);
  });

  it("passes a ParleyError through, turns anything else into a retryable one, refuses an empty token", async () => {
    const stop = new ParleyError({ code: "SESSION_REVOKED", message: "log in" });
    await expect(createTokenSource(() => Promise.reject(stop)).get()).rejects.toBe(stop);
    const network = await createTokenSource(() => Promise.reject(new TypeError("fetch failed"))).get().catch((e: unknown) => e);
    expect(network).toMatchObject({ code: "UNAVAILABLE", retryable: true });
    await expect(createTokenSource(() => Promise.resolve("")).get()).rejects.toMatchObject({ code: "AUTH_REQUIRED" });
  });
});
