/** MongoDB error helpers, for MongoDB and for FerretDB, which reports some errors differently. */

/** MongoDB's code for a write that would break a unique index. */
const DUPLICATE_KEY = 11000;

/** Whether `err` is a duplicate-key (E11000) error from a write that hit a unique index. */
export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === DUPLICATE_KEY;
}

/**
 * True when a write failed only because of duplicate keys: a bulk write error whose write errors all
 * have code 11000 (MongoDB: one per failed item), or a command error with that code (FerretDB).
 * Checked by shape, not `instanceof`, so that a second copy of the driver cannot defeat it.
 */
export function isDuplicateKeyOnly(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const { writeErrors } = err as { writeErrors?: unknown };
  if (writeErrors === undefined) return isDuplicateKeyError(err);
  const list: unknown[] = Array.isArray(writeErrors) ? writeErrors : [writeErrors];
  return list.length > 0 && list.every(isDuplicateKeyError);
}
