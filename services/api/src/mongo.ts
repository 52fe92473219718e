/** MongoDB error helpers. */

/** MongoDB's code for a write that would break a unique index. */
const DUPLICATE_KEY = 11000;

/** Whether `err` is a duplicate-key (E11000) error from a write that hit a unique index. */
export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === DUPLICATE_KEY;
}
