/**
 * examples/echo-bot, run as its own process against a real cluster: it answers `/echo` in a direct
 * conversation and in a group it is added to after it started, as a reply, once per command.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { afterAll, describe, expect, it } from "vitest";

import { answerTo } from "../../examples/echo-bot/bot.js";
import { ROOT } from "../../scripts/lib/paths.js";
import { useCluster } from "../helpers/cluster.js";
import { uniqueSuffix } from "../helpers/env.js";
import { disposeClients, sdkClient, until } from "../helpers/sdk.js";

const fixture = useCluster("echo-bot");
let bot: ChildProcess | undefined;

afterAll(async () => {
  await disposeClients();
  if (bot && bot.exitCode === null) {
    bot.kill("SIGTERM");
    await once(bot, "exit");
  }
});

/** Starts examples/echo-bot/main.ts as a user registering itself; resolves with its user id once ready. */
async function startBot(username: string): Promise<string> {
  bot = spawn(process.execPath, ["--import", "tsx", join(ROOT, "examples/echo-bot/main.ts")], {
    cwd: ROOT,
    env: { ...process.env, PARLEY_URL: fixture.cluster.url, BOT_USERNAME: username, BOT_PASSWORD: "a long bot password", BOT_REGISTER: "true" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: bot.stdout! });
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg: string; userId?: string };
    if (entry.msg === "echo bot ready" && entry.userId) return entry.userId;
  }
  throw new Error(`the bot exited (${bot.exitCode}) before it was ready`);
}

describe("answerTo", () => {
  it("answers /echo with its text, and nothing else", () => {
    expect(answerTo("/echo hello there")).toBe("hello there");
    expect(answerTo("  /echo   multi\nline ")).toBe("multi\nline");
    expect(answerTo("/echo")).toBe("usage: /echo <text>");
    expect(answerTo("/echoes")).toBeUndefined();
    expect(answerTo("hello /echo x")).toBeUndefined();
  });
});

describe("the echo bot", () => {
  it("answers /echo as a reply, in a direct conversation and in a group it joins later, once each", async () => {
    const botId = await startBot(`echo_${uniqueSuffix()}`);
    const alice = await fixture.api.register("alice");
    const direct = await fixture.api.direct(alice.token, botId);
    const a = await sdkClient(fixture, alice);
    await a.connect();
    const chat = a.conversation(direct.id);
    await until(chat.messages, (m) => m.loaded, "alice's first page");

    const asked = chat.send({ content: "/echo hello bot" });
    chat.send({ content: "not a command" });
    const answered = await until(chat.messages, (m) => m.items.some((i) => i.senderId === botId), "the bot's answer", 15_000);
    const answer = answered.items.find((i) => i.senderId === botId)!;
    expect(answer).toMatchObject({ content: "hello bot", replyToId: answered.items.find((i) => i.clientMsgId === asked.clientMsgId)!.id });

    // A group made after the bot started: it learns of it from conversation:created.
    const res = await fetch(`${fixture.cluster.url}/api/conversations`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "group", name: "bots", memberIds: [botId] }),
    });
    expect(res.status).toBe(201);
    const { conversation } = (await res.json()) as { conversation: { id: string } };
    const group = a.conversation(conversation.id);
    await until(group.messages, (m) => m.loaded, "the group's first page");
    group.send({ content: "/echo in the group" });
    const inGroup = await until(group.messages, (m) => m.items.some((i) => i.senderId === botId), "the bot's answer in the group", 15_000);
    expect(inGroup.items.filter((i) => i.senderId === botId).map((i) => i.content)).toEqual(["in the group"]);
    // One answer per command, in each conversation.
    expect(chat.messages.get().items.filter((i) => i.senderId === botId)).toHaveLength(1);
  });
});
