/** Process lifecycle shared by the services: MongoDB connection, readiness checks, graceful shutdown. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

import mongoose, { type Connection } from "mongoose";

import type { Logger } from "./logger.js";
import type { RedisClient } from "./redis.js";

/** Opens a mongoose connection; models are bound to it with `createModels`. */
export async function connectMongo(url: string, log: Logger): Promise<Connection> {
  const connection = mongoose.createConnection(url, {
    serverSelectionTimeoutMS: 5_000,
    // Fail operations fast while disconnected instead of buffering them for 10 s.
    bufferCommands: false,
  });
  connection.on("error", (err: Error) => log.error({ err }, "mongodb connection error"));
  connection.on("disconnected", () => log.warn("mongodb disconnected"));
  connection.on("reconnected", () => log.info("mongodb reconnected"));
  await connection.asPromise();
  return connection;
}

/** One named readiness check; it throws or rejects when the dependency is unavailable. */
export type ReadinessCheck = () => Promise<unknown>;

export const redisReady =
  (redis: RedisClient): ReadinessCheck =>
  () =>
    redis.ping();

export const mongoReady =
  (connection: Connection): ReadinessCheck =>
  async () => {
    if (!connection.db) throw new Error("not connected");
    await connection.db.admin().ping();
  };

/** Liveness and readiness, shared by every service. */
export class Health {
  private draining = false;

  constructor(private readonly checks: Record<string, ReadinessCheck>) {}

  /** From now on, readiness answers 503 so load balancers stop sending new work. */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Runs every check (with a 2 s timeout each) and reports which failed. */
  async readiness(): Promise<{ ready: boolean; checks: Record<string, "ok" | "failed">; draining: boolean }> {
    const names = Object.keys(this.checks);
    const results = await Promise.allSettled(
      names.map((name) => withTimeout(this.checks[name]!(), 2_000)),
    );
    const checks = Object.fromEntries(
      names.map((name, i) => [name, results[i]!.status === "fulfilled" ? "ok" : "failed"] as const),
    );
    const ready = !this.draining && results.every((r) => r.status === "fulfilled");
    return { ready, checks, draining: this.draining };
  }

  /**
   * Answers `GET /healthz` (200 while the process runs) and `GET /readyz` (200 when every check passes
   * and the process is not draining, 503 otherwise). Returns false for any other request.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = req.url?.split("?")[0];
    if (req.method !== "GET" || (path !== "/healthz" && path !== "/readyz")) return false;
    if (path === "/healthz") {
      sendJson(res, 200, { status: "ok" });
      return true;
    }
    this.readiness().then(
      (r) => sendJson(res, r.ready ? 200 : 503, { status: r.ready ? "ready" : "unavailable", ...r }),
      () => sendJson(res, 503, { status: "unavailable" }),
    );
    return true;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A plain HTTP server for a service without one of its own (the worker): health endpoints only. */
export function createHealthServer(health: Health): Server {
  return createServer((req, res) => {
    if (!health.handle(req, res)) sendJson(res, 404, { error: { code: "NOT_FOUND", message: "Not found" } });
  });
}

export interface ShutdownOptions {
  log: Logger;
  /** Hard limit for the whole shutdown; past it the process exits with status 1. */
  deadlineMs: number;
  /** Stops accepting, drains and closes everything, in order. */
  shutdown: (signal: NodeJS.Signals) => Promise<void>;
}

/**
 * Runs `shutdown` once on the first SIGTERM or SIGINT, then exits: 0 when it finished in time, 1 when
 * it failed or the deadline passed. A second signal does not start a second shutdown.
 */
export function handleShutdownSignals({ log, deadlineMs, shutdown }: ShutdownOptions): void {
  let started = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (started) return;
    started = true;
    log.info({ signal, deadlineMs }, "shutting down");
    const deadline = setTimeout(() => {
      log.error({ deadlineMs }, "shutdown deadline passed, exiting");
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    shutdown(signal).then(
      () => {
        log.info("shutdown complete");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/** Logs the reason and exits when the process is about to crash, instead of dying silently. */
export function exitOnFatalErrors(log: Logger): void {
  process.on("uncaughtException", (err) => {
    log.fatal({ err }, "uncaught exception");
    process.exit(1);
  });
  process.on("unhandledRejection", (err) => {
    log.fatal({ err }, "unhandled rejection");
    process.exit(1);
  });
}

/** Starts `server` listening; resolves with the bound port (useful with port 0). */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

/**
 * Stops accepting connections and resolves once every in-flight request has been answered. Idle
 * keep-alive connections are closed at once, or they would hold the close open.
 */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeIdleConnections();
  });
}
