/**
 * Server-side parsing: the schemas of job data (never seen by clients) and {@link parseInput}, the one
 * function every boundary (socket handler, REST body and query, job data) parses its input with.
 */
import { findMalformedText, IsoDate, ObjectIdString, type FieldIssue } from "@parley/protocol";
import { z } from "zod";

import { ValidationError } from "./errors.js";

/** Data of a `pointer` persist job: a delivery or read pointer that moved forward. */
export const PointerJobData = z.object({
  conversationId: ObjectIdString,
  userId: ObjectIdString,
  kind: z.enum(["delivered", "read"]),
  seq: z.number().int().nonnegative(),
  at: IsoDate,
});

/** Data of a `last-seen` persist job: when a user's last socket disconnected. */
export const LastSeenJobData = z.object({ userId: ObjectIdString, lastSeen: IsoDate });

/** Data of an `erase-messages` account job: the deleted account whose messages lose their content. */
export const EraseMessagesJobData = z.object({ userId: ObjectIdString });

/** Data of a `process` attachment job: the attachments of a new message, to describe (dimensions, thumbnail, duration). */
export const ProcessAttachmentsJobData = z.object({
  conversationId: ObjectIdString,
  messageId: ObjectIdString,
  senderId: ObjectIdString,
  attachmentIds: z.array(ObjectIdString).min(1),
});

/** Data of a `purge` attachment job: attachments whose message was deleted. */
export const PurgeAttachmentsJobData = z.object({ attachmentIds: z.array(ObjectIdString).min(1) });

/** Data of a `purge-user` attachment job: the deleted account whose attachments go. */
export const PurgeUserAttachmentsJobData = z.object({ userId: ObjectIdString });

/** The issues of a zod error, with dotted paths, as sent to clients. */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
}

/**
 * Parses `input` with `schema`, or throws a {@link ValidationError} naming every invalid field.
 * `what` names the input in the error message ("message:send payload", "request body").
 *
 * Before the schema runs, every string in `input` (values and keys, at any depth) must be well-formed
 * Unicode without NUL: one rule for every boundary, so that no field can carry text that UTF-8, Redis
 * scripts (cjson) or a database would reject or mangle later.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const malformed = findMalformedText(input);
  if (malformed) {
    throw new ValidationError(`Invalid ${what}: ${malformed.path ? `${malformed.path}: ` : ""}${malformed.message}`, [malformed]);
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = fieldIssues(result.error);
  const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
  throw new ValidationError(`Invalid ${what}: ${summary}`, issues);
}
