/** A whole cluster of real processes (nginx, gateways, API, worker, Redis) for one test file. */
import { hostname } from "node:os";

import { Redis } from "ioredis";
import type { ManagerOptions, SocketOptions } from "socket.io-client";
import { afterAll, beforeAll } from "vitest";

import type { Models } from "@parley/shared/models";
import type { Conversation } from "@parley/protocol";

import { startCluster, type Cluster, type ClusterOptions } from "../../scripts/lib/cluster.js";
import { ONE_ADDRESS_LIMITS } from "../../scripts/lib/one-address-limits.js";
import { ApiClient, type RegisteredUser } from "./api-client.js";
import { connectClient, type ConnectedClient } from "./clients.js";
import { TEST_JWT_SECRET, testDir, testMongoUrl } from "./env.js";
import { openModels } from "./in-process-gateway.js";

export interface ClusterFixture {
  readonly cluster: Cluster;
  readonly api: ApiClient;
  /** A Redis client on the cluster's own Redis (created on first use, closed after the file). */
  readonly redis: Redis;
  /** Models on the cluster's database (opened on first use, closed after the file). */
  models(): Promise<Models>;
  /** Which of `cluster.gateways` serves a client, from its `session:ready.node`. */
  gatewayIndexOf(client: ConnectedClient): number;
  /** Which of `cluster.gateways` is the node named `node` (as `session:ready` names it); -1 for none. */
  gatewayIndexOfNode(node: string | null | undefined): number;
  /** Connects through nginx, reconnecting until the socket lands on gateway `index`. */
  connectTo(index: number, token: string, options?: Partial<ManagerOptions & SocketOptions>): Promise<ConnectedClient>;
  /**
   * Two fresh users with a direct conversation, each connected through nginx with `transport`: nginx
   * spreads new connections, so they land on different gateways.
   */
  connectedPair(transport?: "websocket" | "polling"): Promise<ConnectedPair>;
}

export interface ConnectedPair {
  alice: RegisteredUser;
  bob: RegisteredUser;
  conversation: Conversation;
  a: ConnectedClient;
  b: ConnectedClient;
}

/**
 * Starts a cluster before the file's tests (own Redis, own database) and stops it after them. Every
 * client comes from 127.0.0.1 through nginx, so `ONE_ADDRESS_LIMITS` raise the limits that setting up
 * users would hit; `options.env` goes over them.
 */
export function useCluster(label: string, options: Partial<ClusterOptions> = {}): ClusterFixture {
  let cluster: Cluster | undefined;
  let redis: Redis | undefined;
  let mongo: ReturnType<typeof openModels> | undefined;
  beforeAll(async () => {
    cluster = await startCluster({
      dir: testDir(`cluster-${label}`),
      mongoUrl: testMongoUrl(label),
      jwtSecret: TEST_JWT_SECRET,
      logLevel: process.env.TEST_LOG_LEVEL ?? "warn",
      ...options,
      env: { ...ONE_ADDRESS_LIMITS, ...options.env },
    });
  });
  afterAll(async () => {
    redis?.disconnect();
    await (await mongo?.catch(() => undefined))?.connection.close();
    await cluster?.stop();
  });
  const fixture: ClusterFixture = {
    get cluster() {
      if (!cluster) throw new Error("cluster not started yet");
      return cluster;
    },
    get api() {
      return new ApiClient(fixture.cluster.url);
    },
    get redis() {
      if (fixture.cluster.redisClusterNodes) {
        throw new Error("fixture.redis talks to one Redis; this cluster runs on a Redis Cluster: open an ioredis Cluster instead");
      }
      return (redis ??= new Redis(fixture.cluster.redisUrl));
    },
    async models() {
      return (await (mongo ??= openModels(fixture.cluster.mongoUrl))).models;
    },
    gatewayIndexOf(client) {
      return fixture.gatewayIndexOfNode(client.session.node);
    },
    gatewayIndexOfNode(node) {
      // Gateways started by the harness keep the default NODE_ID, `<hostname>-<pid>`.
      return fixture.cluster.gateways.findIndex((g) => node === `${hostname()}-${g.process?.pid}`);
    },
    async connectTo(index, token, connectOptions) {
      for (let attempt = 0; attempt < 10; attempt++) {
        const client = await connectClient(fixture.cluster.url, token, connectOptions);
        if (fixture.gatewayIndexOf(client) === index) return client;
        client.socket.disconnect();
      }
      throw new Error(`could not reach gateway ${index} through nginx`);
    },
    async connectedPair(transport = "websocket") {
      const { api } = fixture;
      const alice = await api.register("alice");
      const bob = await api.register("bob");
      const conversation = await api.direct(alice.token, bob.id);
      const a = await connectClient(fixture.cluster.url, alice.token, { transports: [transport] });
      const b = await connectClient(fixture.cluster.url, bob.token, { transports: [transport] });
      return { alice, bob, conversation, a, b };
    },
  };
  return fixture;
}
