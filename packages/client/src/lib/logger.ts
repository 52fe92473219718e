/**
 * Where the SDK reports what it does: `console` fits, as does a pino or winston logger.
 */

/** A logger: `console`, or any object with these methods. */
export interface Logger {
  debug(message: string, context?: unknown): void;
  warn(message: string, context?: unknown): void;
  error(message: string, context?: unknown): void;
}

/** The default logger: says nothing. */
export const silentLogger: Logger = {
  debug: () => {},
  warn: () => {},
  error: () => {},
};
