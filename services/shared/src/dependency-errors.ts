/**
 * Whether a thrown value means that Redis, MongoDB or the object store is unavailable (down,
 * unreachable, restarting, failing over, overloaded), as opposed to a bug or a refusal. `toWireError` and `httpStatusOf` (errors.ts) answer
 * such a failure `UNAVAILABLE` / 503, which a client may retry, instead of `INTERNAL` / 500.
 *
 * Recognised by shape (the error's `name`, `code`, message and MongoDB error labels), never by
 * `instanceof`: a second copy of ioredis, BullMQ, mongoose or the MongoDB driver in `node_modules`
 * must not defeat it. Wrapped errors count too, through `cause` chains, `AggregateError#errors` and
 * ioredis's `lastNodeError`.
 */

/** Errors whose name alone says a dependency is unavailable. */
const UNAVAILABLE_NAMES: ReadonlySet<string> = new Set([
  // ioredis: a command failed after `maxRetriesPerRequest` reconnection attempts.
  "MaxRetriesPerRequestError",
  // ioredis Cluster: no node answered the slots refresh.
  "ClusterAllFailedError",
  // BullMQ: its Redis connection is closed, or was closed mid-command.
  "ConnectionClosedError",
  // MongoDB driver, and mongoose's wrapper of the first one when it connects.
  "MongoServerSelectionError",
  "MongooseServerSelectionError",
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "MongoNotConnectedError",
  "MongoPoolClearedError",
  "PoolClearedOnNetworkError",
  "MongoPoolClosedError",
  "MongoWaitQueueTimeoutError",
  "MongoTopologyClosedError",
  "MongoClientClosedError",
  "MongoServerClosedError",
]);

/** Node's codes of a failed or broken connection (ioredis and the MongoDB driver pass them on). */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * Messages of ioredis and BullMQ errors that are plain `Error`s, matched from their start. The wording is
 * the libraries' own (ioredis 6, BullMQ 6); dependency-errors.test.ts reproduces the common ones with real clients.
 */
const UNAVAILABLE_MESSAGES: readonly string[] = [
  "Connection is closed.",
  "Stream isn't writeable and enableOfflineQueue options is false",
  "Cluster isn't ready and enableOfflineQueue options is false",
  "None of startup nodes is available",
  "Failed to refresh slots cache.",
  "Cluster is disconnected.",
  "Cluster is disconnecting.",
  "Cluster is ended.",
  "Command aborted due to connection close",
  "Connection is aborted",
  "Node is disconnected",
  "Command timed out",
  "Socket timeout.",
  "Too many Cluster redirections.",
  "BullMQ: cluster reconnect timed out",
];

/**
 * Redis error replies of a server that cannot serve now: loading its dataset, a read-only replica or
 * one that lost its primary, a cluster without quorum or in the middle of a resharding.
 */
const REDIS_UNAVAILABLE_REPLY = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN) /;

/** mongoose: an operation waited for a connection (`bufferCommands`), or ran before the first one. */
const MONGOOSE_NOT_CONNECTED = /buffering timed out after \d+ms|before initial connection is complete/;

/**
 * MongoDB error labels of a failure worth retrying as a whole: the driver's own retry gave up, the
 * transaction may succeed again, or the server is overloaded (driver 7 also labels a refused connection
 * with the last two).
 */
const UNAVAILABLE_LABELS: readonly string[] = ["RetryableWriteError", "TransientTransactionError", "SystemOverloadedError", "RetryableError"];

/**
 * MongoDB server error codes of a node that cannot serve now: unreachable, shutting down, stepped down
 * or not primary (the driver's retryable-read codes). Only read from errors named `Mongo…`.
 */
const MONGO_UNAVAILABLE_CODES: ReadonlySet<number> = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  134, // ReadConcernMajorityNotAvailableYet
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** How deep wrapped errors are followed; real chains are two or three deep. */
const MAX_DEPTH = 8;

/**
 * True when `err`, or an error it wraps, says Redis or MongoDB is unavailable: see the lists above.
 * An `AggregateError` counts when any of its errors does: an operation that failed partly because a
 * dependency is down may succeed once it is back.
 */
export function isDependencyUnavailable(err: unknown): boolean {
  return visit(err, 0, new Set());
}

function visit(value: unknown, depth: number, seen: Set<object>): boolean {
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH || seen.has(value)) return false;
  seen.add(value);
  if (says(value as ErrorShape)) return true;
  const { cause, errors, lastNodeError } = value as ErrorShape;
  if (visit(cause, depth + 1, seen) || visit(lastNodeError, depth + 1, seen)) return true;
  return Array.isArray(errors) && errors.some((inner) => visit(inner, depth + 1, seen));
}

/** The fields read from an error, any of which may be missing or of another type. */
interface ErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  errorLabels?: unknown;
  errorLabelSet?: unknown;
  cause?: unknown;
  errors?: unknown;
  lastNodeError?: unknown;
  /** The AWS SDK's side of a failure: `"client"` (a refusal) or `"server"`. */
  $fault?: unknown;
}

/** Whether this one error, wrapped errors aside, says a dependency is unavailable. */
function says(err: ErrorShape): boolean {
  const name = typeof err.name === "string" ? err.name : "";
  if (UNAVAILABLE_NAMES.has(name)) return true;
  if (typeof err.code === "string" && NETWORK_CODES.has(err.code)) return true;
  // The object store (AWS SDK): a failure on its side (500 InternalError, 503 SlowDown…), after the
  // SDK's own retries.
  if (err.$fault === "server") return true;
  if (name.startsWith("Mongo")) {
    if (typeof err.code === "number" && MONGO_UNAVAILABLE_CODES.has(err.code)) return true;
    if (labelsOf(err).some((label) => UNAVAILABLE_LABELS.includes(label))) return true;
  }
  const message = typeof err.message === "string" ? err.message : "";
  if (UNAVAILABLE_MESSAGES.some((prefix) => message.startsWith(prefix))) return true;
  if (REDIS_UNAVAILABLE_REPLY.test(message)) return true;
  return name === "MongooseError" && MONGOOSE_NOT_CONNECTED.test(message);
}

/** A MongoDB error's labels: the `errorLabels` getter, or the set behind it (also once copied). */
function labelsOf(err: ErrorShape): string[] {
  const labels = Array.isArray(err.errorLabels) ? err.errorLabels : err.errorLabelSet instanceof Set || Array.isArray(err.errorLabelSet) ? [...err.errorLabelSet] : [];
  return labels.filter((label): label is string => typeof label === "string");
}
