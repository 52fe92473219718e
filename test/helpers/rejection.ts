/** Awaiting a promise that must reject. */
import { expect } from "vitest";

/** The error `promise` rejects with, which must be an instance of `type`; fails the test if it resolves. */
export async function rejectionOf<E>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  return err as E;
}
