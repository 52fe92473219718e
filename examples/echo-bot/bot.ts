/**
 * A bot on the parley SDK that answers `/echo <text>` in every conversation it is a member of, as a
 * reply to the message, and keeps doing so across reconnects, token refreshes and new conversations.
 */
import { createClient, createSessionAuth, type Conversation, type ParleyClient, type TimelineMessage } from "@parley/client";

export interface EchoBotOptions {
  /** The parley origin, e.g. `http://localhost:8080`. */
  url: string;
  username: string;
  password: string;
  /** Register the account when it does not exist yet. @default false */
  register?: boolean;
}

export interface EchoBot {
  readonly client: ParleyClient;
  /** Stops answering and disconnects. */
  stop(): Promise<void>;
}

const COMMAND = /^\/echo(?:\s+([\s\S]*))?$/;

/** What the bot answers to `content`, or undefined when it is not a command. */
export function answerTo(content: string): string | undefined {
  const match = COMMAND.exec(content.trim());
  if (!match) return undefined;
  const text = match[1]?.trim();
  return text ? text : "usage: /echo <text>";
}

/** Logs in (or registers), connects, and answers until `stop()`. */
export async function startEchoBot(options: EchoBotOptions): Promise<EchoBot> {
  const auth = createSessionAuth({ url: options.url });
  const credentials = { username: options.username, password: options.password, device: "echo-bot" };
  if (options.register) {
    await auth.register(credentials).catch(async (err: unknown) => {
      if ((err as { code?: string }).code !== "USERNAME_TAKEN") throw err;
      await auth.login(credentials);
    });
  } else {
    await auth.login(credentials);
  }
  const client = createClient({ url: options.url, getToken: auth.getToken });
  // Only what is said from now on: history is not a command to this bot.
  const startedAt = new Date().toISOString();
  const answered = new Set<string>();
  const watched = new Map<string, { chat: Conversation; off: () => void }>();

  const answer = (chat: Conversation, message: TimelineMessage): void => {
    if (answered.has(message.id) || message.createdAt < startedAt) return;
    if (message.senderId === client.connection.get().userId || message.deletedAt) return;
    const text = answerTo(message.content);
    if (text === undefined) return;
    answered.add(message.id);
    chat.reply(message.id, { content: text });
  };

  const watch = (conversationId: string): void => {
    if (watched.has(conversationId)) return;
    const chat = client.conversation(conversationId);
    const off = chat.messages.subscribe(() => {
      for (const message of chat.messages.get().items) answer(chat, message);
    });
    watched.set(conversationId, { chat, off });
  };

  const offList = client.conversations.subscribe(() => {
    const current = new Set(client.conversations.get().map((c) => c.id));
    for (const id of current) watch(id);
    for (const [id, { chat, off }] of watched) {
      if (current.has(id)) continue;
      off();
      chat.release();
      watched.delete(id);
    }
  });
  await client.connect();

  return {
    client,
    async stop() {
      offList();
      for (const { chat, off } of watched.values()) {
        off();
        chat.release();
      }
      watched.clear();
      await client.dispose();
    },
  };
}
