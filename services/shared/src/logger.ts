/** Structured JSON logs (pino) with the service and node on every line, and secrets redacted. */
import { pino, type Logger } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  service: "gateway" | "api" | "worker";
  node: string;
  level: string;
}

/** Paths that may hold a secret; pino replaces their values before anything is written. */
const REDACT = [
  "password",
  "token",
  "*.password",
  "*.token",
  "accessToken",
  "refreshToken",
  "*.accessToken",
  "*.refreshToken",
  "auth.token",
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "headers.cookie",
  "config.JWT_SECRET",
  "config.NOTIFY_WEBHOOK_SECRET",
];

export function createLogger({ service, node, level }: LoggerOptions): Logger {
  return pino({
    level,
    base: { service, node },
    redact: { paths: REDACT, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
