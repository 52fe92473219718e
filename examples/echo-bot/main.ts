/**
 * Runs the echo bot until SIGINT or SIGTERM:
 *
 *   PARLEY_URL=http://localhost:8080 BOT_USERNAME=echo BOT_PASSWORD='…' BOT_REGISTER=true \
 *     node --import tsx examples/echo-bot/main.ts
 */
import { startEchoBot } from "./bot.js";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required (see the header of examples/echo-bot/main.ts)`);
    process.exit(2);
  }
  return value;
}

const bot = await startEchoBot({
  url: process.env.PARLEY_URL ?? "http://localhost:8080",
  username: required("BOT_USERNAME"),
  password: required("BOT_PASSWORD"),
  register: process.env.BOT_REGISTER === "true",
});
bot.client.connection.subscribe(() => {
  const { state, error } = bot.client.connection.get();
  console.log(JSON.stringify({ msg: "connection", state, ...(error && { error: error.code }) }));
});
console.log(JSON.stringify({ msg: "echo bot ready", userId: bot.client.connection.get().userId }));

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void bot.stop().then(() => process.exit(0));
  });
}
