import { describe, expect, it } from "vitest";

import type { RedisClient } from "./redis.js";
import { redisKeys } from "./redis-keys.js";
import { crc16, groupByNode, hashTag, hasHashTag, keySlot, pipelinePerNode, SLOT_COUNT } from "./redis-slots.js";

describe("hash slots", () => {
  it("computes CRC16-XMODEM and the slots Redis documents", () => {
    expect(crc16(Buffer.from("123456789"))).toBe(0x31c3);
    expect(keySlot("foo")).toBe(12182);
    expect(keySlot("bar")).toBe(5061);
    expect(keySlot("hello")).toBe(866);
  });

  it("hashes only the first non-empty hash tag", () => {
    expect(hashTag("{user1000}.following")).toBe("user1000");
    expect(keySlot("{user1000}.following")).toBe(keySlot("{user1000}.followers"));
    expect(hashTag("foo{}{bar}")).toBe("foo{}{bar}");
    expect(hashTag("foo{{bar}}zap")).toBe("{bar");
    expect(hashTag("foo{bar}{zap}")).toBe("bar");
    expect(hashTag("no-tag{")).toBe("no-tag{");
    expect(hasHashTag("{parley}")).toBe(true);
    expect(hasHashTag("parley")).toBe(false);
    expect(hasHashTag("{}parley")).toBe(false);
  });

  it("puts every key of a conversation, a user and a queue in one slot", () => {
    const keys = redisKeys("parley");
    const c = "65f0c0ffee0000000000abcd";
    const conversation = [
      keys.conversationSeq(c),
      keys.conversationMembers(c),
      keys.conversationMembersVersion(c),
      keys.conversationStream(c),
      keys.conversationOverlay(c),
      keys.conversationEpoch(c),
      keys.conversationRead(c),
      keys.conversationDelivered(c),
      keys.clientMsgId(c, "sender", "{odd}client-id"),
      keys.conversationBlocked(c),
    ];
    expect(new Set(conversation.map(keySlot)).size).toBe(1);
    const user = [keys.userConnections("u1"), keys.userLastSeen("u1"), keys.userCall("u1"), keys.userBlocks("u1"), keys.userBlocksVersion("u1")];
    expect(new Set(user.map(keySlot)).size).toBe(1);
    expect(new Set(["{parley}:persist:wait", "{parley}:persist:active", "{parley}:persist:id"].map(keySlot)).size).toBe(1);
  });
});

/** A stand-in for an ioredis Cluster: three masters, slots split as `redis-cli --cluster create` does. */
function fakeCluster() {
  const ranges = [
    { node: "127.0.0.1:7000", last: 5460 },
    { node: "127.0.0.1:7001", last: 10922 },
    { node: "127.0.0.1:7002", last: SLOT_COUNT - 1 },
  ];
  const slots = Array.from({ length: SLOT_COUNT }, (_, slot) => [ranges.find((r) => slot <= r.last)!.node]);
  const pipelines: string[][] = [];
  const cluster = {
    isCluster: true,
    slots,
    pipeline() {
      const queued: string[] = [];
      pipelines.push(queued);
      const pipeline = {
        get length() {
          return queued.length;
        },
        get(key: string) {
          queued.push(key);
          return pipeline;
        },
        hlen(key: string) {
          queued.push(key);
          return pipeline;
        },
        exec: async () => queued.map((key) => [null, `reply:${key}`]),
      };
      return pipeline;
    },
  };
  const nodeOf = (key: string) => slots[keySlot(key)]![0]!;
  return { client: cluster as unknown as RedisClient, pipelines, nodeOf };
}

describe("groupByNode", () => {
  it("keeps everything in one group on a single Redis", () => {
    const single = { isCluster: false, pipeline: () => undefined } as unknown as RedisClient;
    expect(groupByNode(single, ["a", "b", "c"], (k) => k)).toEqual([["a", "b", "c"]]);
    expect(groupByNode(single, [], (k) => k)).toEqual([]);
  });

  it("groups keys by the node that serves their slot, in order", () => {
    const { client, nodeOf } = fakeCluster();
    const keys = Array.from({ length: 60 }, (_, i) => `parley:{u:user-${i}}:conns`);
    const groups = groupByNode(client, keys, (k) => k);
    expect(groups).toHaveLength(3);
    for (const group of groups) expect(new Set(group.map(nodeOf)).size).toBe(1);
    expect(groups.flat().sort()).toEqual([...keys].sort());
    for (const group of groups) expect(group).toEqual(keys.filter((k) => group.includes(k)));
  });

  it("falls back to one group per slot while the slot map is unknown", () => {
    const { client } = fakeCluster();
    (client as unknown as { slots: string[][] }).slots = [];
    const keys = ["{a}1", "{a}2", "{b}1"];
    expect(groupByNode(client, keys, (k) => k)).toEqual([["{a}1", "{a}2"], ["{b}1"]]);
  });
});

describe("pipelinePerNode", () => {
  it("sends one pipeline per node and returns each item's replies in item order", async () => {
    const { client, pipelines, nodeOf } = fakeCluster();
    const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const conns = (u: string) => `parley:{u:${u}}:conns`;
    const seen = (u: string) => `parley:{u:${u}}:seen`;
    const replies = await pipelinePerNode(client, users, conns, (pipeline, u) => pipeline.hlen(conns(u)).get(seen(u)));

    expect(pipelines).toHaveLength(3);
    for (const queued of pipelines) expect(new Set(queued.map(nodeOf)).size).toBe(1);
    expect(replies).toEqual(users.map((u) => [[null, `reply:${conns(u)}`], [null, `reply:${seen(u)}`]]));
  });

  it("tells duplicate items apart", async () => {
    const { client } = fakeCluster();
    const replies = await pipelinePerNode(client, ["{x}", "{y}", "{x}"], (k) => k, (pipeline, k) => pipeline.get(k));
    expect(replies).toEqual([[[null, "reply:{x}"]], [[null, "reply:{y}"]], [[null, "reply:{x}"]]]);
  });
});
