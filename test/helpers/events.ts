/** Awaiting events instead of sleeping. */

/** Anything with `once`/`off`/`on` (typed Socket.IO sockets, Node emitters); loose on purpose. */
interface EventSource {
  once(...args: any[]): unknown;
  off(...args: any[]): unknown;
}

/** Resolves with the first argument of the next `event`, or rejects after `timeoutMs`. */
export function nextEvent<T = unknown>(source: EventSource, event: string, timeoutMs = 5_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener = (value: T) => {
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => {
      source.off(event, listener);
      reject(new Error(`no '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    source.once(event, listener);
  });
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Collects every `event` a source emits, for asserting on what arrived (and what did not). */
export function collect<T = unknown>(source: { on(...args: any[]): unknown }, event: string): T[] {
  const seen: T[] = [];
  source.on(event, (value: T) => seen.push(value));
  return seen;
}

/** Resolves with the first argument of the next `event` for which `matches` holds, or rejects after `timeoutMs`. */
export function nextEventWhere<T>(
  source: { on(...args: any[]): unknown; off(...args: any[]): unknown },
  event: string,
  matches: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener = (value: T) => {
      if (!matches(value)) return;
      clearTimeout(timer);
      source.off(event, listener);
      resolve(value);
    };
    const timer = setTimeout(() => {
      source.off(event, listener);
      reject(new Error(`no matching '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    source.on(event, listener);
  });
}
