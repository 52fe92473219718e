/**
 * One timer for many deadlines: items are kept in buckets of `resolutionMs`, and a single interval
 * hands each bucket's items to `onDue` once its time has passed. A gateway with tens of thousands of
 * sockets holds one map entry per socket instead of a `Timeout` object each, and spends one tick per
 * interval however many sockets it has.
 *
 * An item is due at most `resolutionMs` (plus the event loop's lag) after its time, never before.
 */
export class Deadlines<T> {
  /** Bucket number → its items. */
  private readonly buckets = new Map<number, Set<T>>();
  /** Item → its bucket number. */
  private readonly bucketOf = new Map<T, number>();
  /** The last bucket handed out; every later bucket is still pending. */
  private done: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onDue: (item: T) => void,
    private readonly resolutionMs = 250,
    private readonly now: () => number = Date.now,
  ) {
    this.done = this.bucketAt(this.now()) - 1;
  }

  /** Items waiting for their deadline. */
  get size(): number {
    return this.bucketOf.size;
  }

  /** Makes `item` due at `atMs` (ms since the epoch), replacing its previous deadline. */
  set(item: T, atMs: number): void {
    this.delete(item);
    // A deadline in the past is due at the next tick.
    const bucket = Math.max(Math.ceil(atMs / this.resolutionMs), this.done + 1);
    let items = this.buckets.get(bucket);
    if (!items) this.buckets.set(bucket, (items = new Set()));
    items.add(item);
    this.bucketOf.set(item, bucket);
  }

  /** Forgets `item`'s deadline, if it has one. */
  delete(item: T): void {
    const bucket = this.bucketOf.get(item);
    if (bucket === undefined) return;
    this.bucketOf.delete(item);
    const items = this.buckets.get(bucket);
    items?.delete(item);
    if (items?.size === 0) this.buckets.delete(bucket);
  }

  /** Hands every item whose deadline has passed to `onDue` (called by the interval; public for tests). */
  tick(): void {
    const last = this.bucketAt(this.now());
    while (this.done < last) {
      const bucket = ++this.done;
      const items = this.buckets.get(bucket);
      if (!items) continue;
      this.buckets.delete(bucket);
      for (const item of items) {
        this.bucketOf.delete(item);
        this.onDue(item);
      }
    }
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.resolutionMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The last bucket whose time has come at `ms`: bucket b is due at b × resolution. */
  private bucketAt(ms: number): number {
    return Math.floor(ms / this.resolutionMs);
  }
}
