/**
 * A generic batcher: callers add items one at a time and await their own outcome, while the items are
 * written together, many per round trip. Pure logic: the write is injected, timers are the only I/O.
 */

/** What became of one item of a batch. */
export type ItemOutcome<R> = { ok: true; value: R } | { ok: false; error: Error };

/**
 * Writes one batch. Resolves with one outcome per item, in the order of `items`, so that one bad item
 * fails alone; rejects when the whole batch failed (every item then rejects with that error).
 */
export type WriteBatch<T, R> = (items: readonly T[]) => Promise<readonly ItemOutcome<R>[]>;

/** Options of a {@link Batcher}. */
export interface BatcherOptions<T, R> {
  /** Most items per batch: a batch is written as soon as it holds this many. */
  maxSize: number;
  /** Longest an item waits for its batch to fill, counted from the batch's first item, in ms. */
  maxWaitMs: number;
  /**
   * Most batches written at once. A batch that is due while this many are being written keeps filling
   * until one of them finishes, so under load batches grow instead of queueing up: each write then
   * carries more items for the same fixed costs. @default Infinity
   */
  maxConcurrentWrites?: number;
  write: WriteBatch<T, R>;
}

interface Entry<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: Error) => void;
}

/**
 * Collects items into batches and writes each batch once it is full or its first item has waited
 * `maxWaitMs`, whichever comes first.
 *
 * Up to `maxConcurrentWrites` batches may be written at the same time: a new batch starts filling as
 * soon as the previous one is handed to `write`, without waiting for that write to finish. The write
 * function must therefore tolerate concurrent calls (the message store does: its inserts are
 * idempotent and its conversation updates conditional). How many items are in flight at once is
 * bounded by the caller, for the worker by the BullMQ concurrency.
 */
export class Batcher<T, R = void> {
  private pending: Entry<T, R>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  /** The filling batch is due (full or waited long enough) and waits only for a write to finish. */
  private due = false;
  private readonly maxConcurrentWrites: number;

  constructor(private readonly options: BatcherOptions<T, R>) {
    if (!Number.isInteger(options.maxSize) || options.maxSize < 1) throw new RangeError("maxSize must be an integer >= 1");
    if (!(options.maxWaitMs >= 0)) throw new RangeError("maxWaitMs must be >= 0");
    this.maxConcurrentWrites = options.maxConcurrentWrites ?? Infinity;
    if (!(this.maxConcurrentWrites >= 1)) throw new RangeError("maxConcurrentWrites must be >= 1");
  }

  /** Items waiting for their batch to be written (not counting batches already being written). */
  get size(): number {
    return this.pending.length;
  }

  /** Batches being written right now. */
  get writing(): number {
    return this.inFlight.size;
  }

  /**
   * Adds an item to the filling batch. Resolves with the item's own outcome once its batch has been
   * written, or rejects with its error (or the whole batch's).
   *
   * After {@link close}, items are still accepted, but written at once instead of waiting for others:
   * a queue consumer that is shutting down may still hand over the jobs it had already fetched.
   */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.due) return;
      if (this.pending.length >= this.options.maxSize) {
        this.writePending();
      } else if (this.pending.length === 1) {
        // Once closed, a zero delay still groups the items added in the same tick.
        this.timer = setTimeout(() => this.writePending(), this.closed ? 0 : this.options.maxWaitMs);
      }
    });
  }

  /**
   * Writes the filling batch now, then resolves once every batch handed to the write function so far
   * has settled. Never rejects: failures reach the promises returned by {@link add}.
   */
  async flush(): Promise<void> {
    this.writePending();
    while (this.inFlight.size > 0 || this.pending.length > 0) {
      await Promise.all(this.inFlight);
      this.writePending();
    }
  }

  /**
   * Stops waiting for batches to fill: writes the filling batch now, and from then on every item as
   * soon as it is added. Resolves once every write has settled.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private writePending(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) {
      if (this.inFlight.size >= this.maxConcurrentWrites) {
        // Written as soon as a write finishes (see the `finally` below); it fills up meanwhile.
        this.due = true;
        return;
      }
      const batch = this.pending.splice(0, this.options.maxSize);
      const written = this.writeBatch(batch).finally(() => {
        this.inFlight.delete(written);
        if (this.due) this.writePending();
      });
      this.inFlight.add(written);
    }
    this.due = false;
  }

  private async writeBatch(batch: Entry<T, R>[]): Promise<void> {
    let outcomes: readonly ItemOutcome<R>[];
    try {
      outcomes = await this.options.write(batch.map((entry) => entry.item));
      if (outcomes.length !== batch.length) {
        throw new Error(`batch write returned ${outcomes.length} outcomes for ${batch.length} items`);
      }
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const entry of batch) entry.reject(error);
      return;
    }
    batch.forEach((entry, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) entry.resolve(outcome.value);
      else entry.reject(outcome.error);
    });
  }
}
