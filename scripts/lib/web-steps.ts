/**
 * What a person does in the web app, as Playwright steps: create an account, log in, open a direct chat,
 * say something. Shared by the browser tests (test/helpers/web-app.ts) and `npm run screenshots`. Each
 * step resolves once the page shows its outcome; nothing sleeps.
 */
import type { Page } from "playwright-core";

/** The password of every account these steps create. */
const PASSWORD = "correct horse battery";

/** Creates an account through the form; resolves once the chat screen shows. */
export async function register({ page }: { page: Page }, username: string): Promise<void> {
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor();
}

/** Logs in to an account {@link register} created (another device of its user); resolves once the chat screen shows. */
export async function logIn({ page }: { page: Page }, username: string): Promise<void> {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor();
}

/** Opens the direct chat with `username` through the search. */
export async function openDirectChat({ page }: { page: Page }, username: string): Promise<void> {
  await page.getByLabel("Find a user").fill(username);
  await page.getByRole("button", { name: `Chat with ${username} (@${username})` }).click();
  await page.getByRole("heading", { name: username }).waitFor();
}

/** Writes `text` in the message box and sends it with Enter. */
export async function say({ page }: { page: Page }, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
}
