/**
 * Groups in the web app, as people use them: three browser contexts on a real cluster (nginx serving
 * the built app, two gateways, the API, the worker, Redis, FerretDB, the object store). One creates a
 * group with the two others found by search, removes (the group closes on that member's screen) and adds
 * back a member; then messages (read by the others), a reply, an edit, a reaction and a delete made by
 * one show up on the two others; a member leaves.
 */
import { describe, expect, it } from "vitest";

import { useCluster } from "../helpers/cluster.js";
import { contentsOf, conversationRow, messageLog, messageWith, register, say, useBrowser, type Person } from "../helpers/web-app.js";

const fixture = useCluster("web-group");
const { open } = useBrowser(fixture);

/** Opens the members dialog of the open group. */
async function membersDialog({ page }: Person) {
  await page.getByRole("button", { name: /^\d+ members$/ }).click();
  const dialog = page.getByRole("dialog", { name: /^Members of/ });
  await dialog.waitFor();
  return dialog;
}

describe("the web app's groups", () => {
  it("lets three people share a group: members added and removed, messages, a reply, an edit, a reaction and a delete seen by all, a member leaving", async () => {
    const suffix = Date.now().toString(36);
    const [adaName, bobName, catName] = ["ada", "bob", "cat"].map((n) => `${n}-${suffix}`) as [string, string, string];
    const groupName = `team ${suffix}`;
    const ada = await open(1280);
    await register(ada, adaName);
    const bob = await open(1280);
    await register(bob, bobName);
    const cat = await open(1280);
    await register(cat, catName);
    const everyone = [ada, bob, cat];

    // Ada creates the group: a name, and Bob and Cat found by the start of their usernames.
    await ada.page.getByRole("button", { name: "New group" }).click();
    const create = ada.page.getByRole("dialog", { name: "New group" });
    await create.getByLabel("Group name").fill(groupName);
    for (const name of [bobName, catName]) {
      await create.getByLabel("Find people to add").fill(name);
      await create.getByRole("button", { name: `Add ${name} (@${name})` }).click();
    }
    expect(await create.getByRole("list", { name: "Members" }).getByRole("listitem").allTextContents()).toEqual([`${bobName}×`, `${catName}×`]);
    await create.getByRole("button", { name: "Create group" }).click();
    await create.waitFor({ state: "hidden" });
    await ada.page.getByRole("heading", { name: groupName }).waitFor();
    await ada.page.getByRole("button", { name: "3 members" }).waitFor();
    await conversationRow(bob, new RegExp(groupName)).waitFor();

    // Ada, the admin, removes Cat: the group leaves Cat's list, and closes on her screen with a notice;
    // she adds Cat back: it returns.
    await conversationRow(cat, new RegExp(groupName)).click();
    await cat.page.getByRole("heading", { name: groupName }).waitFor();
    let members = await membersDialog(ada);
    await members.getByRole("button", { name: `Remove ${catName} from the group` }).click();
    await ada.page.getByRole("button", { name: "2 members" }).waitFor();
    await conversationRow(cat, new RegExp(groupName)).waitFor({ state: "detached" });
    await cat.page.getByRole("status").filter({ hasText: `You are no longer in ${groupName}` }).waitFor();
    await cat.page.getByRole("heading", { name: groupName }).waitFor({ state: "detached" });
    await members.getByLabel("Find people to add").fill(catName);
    await members.getByRole("button", { name: `Add ${catName} (@${catName})` }).click();
    await ada.page.getByRole("button", { name: "3 members" }).waitFor();
    expect(await members.getByRole("list", { name: "Members" }).getByRole("listitem").count()).toBe(3);
    await members.getByRole("button", { name: "Close" }).click();
    await members.waitFor({ state: "hidden" });
    // Bob is no admin: no member can be removed from his dialog.
    await conversationRow(bob, new RegExp(groupName)).click();
    members = await membersDialog(bob);
    expect(await members.getByRole("button", { name: /^Remove/ }).count()).toBe(0);
    await members.getByRole("button", { name: "Close" }).click();
    await conversationRow(cat, new RegExp(groupName)).click();
    await cat.page.getByRole("heading", { name: groupName }).waitFor();
    expect(await cat.page.getByTestId("notice").textContent()).toBe("");

    // A message from Ada reaches both; she sees both read it.
    await say(ada, "hello team");
    for (const person of [bob, cat]) await messageWith(person, "hello team").waitFor();
    const readers = new RegExp(`^Read by (${bobName}, ${catName}|${catName}, ${bobName})$`);
    await messageWith(ada, "hello team").getByRole("img", { name: readers }).waitFor();

    // Bob replies to it: his message quotes hers, on every screen.
    await messageWith(bob, "hello team").getByRole("button", { name: "Reply" }).click();
    await bob.page.getByRole("group", { name: "Replying to" }).filter({ hasText: "hello team" }).waitFor();
    await say(bob, "hi ada");
    await bob.page.getByRole("group", { name: "Replying to" }).waitFor({ state: "detached" });
    for (const person of everyone) await messageWith(person, "hi ada").locator(".quote", { hasText: `${person === ada ? "You" : adaName} hello team` }).waitFor();

    // Ada edits hers: the new text and "edited" everywhere, the quote of Bob's reply too.
    await messageWith(ada, "hello team").getByRole("button", { name: "Edit" }).click();
    const edit = ada.page.getByRole("textbox", { name: "Edit message" });
    expect(await edit.inputValue()).toBe("hello team");
    await edit.fill("hello everyone");
    await edit.press("Enter");
    for (const person of everyone) {
      await messageWith(person, "hello everyone").locator(".edited").waitFor();
      await messageWith(person, "hi ada").locator(".quote", { hasText: "hello everyone" }).waitFor();
    }

    // Cat reacts with the keyboard alone; then Ada adds the same emoji with a click on the count.
    await messageWith(cat, "hello everyone").getByRole("button", { name: "React" }).focus();
    await cat.page.keyboard.press("Enter");
    await expect.poll(() => cat.page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } } }).document.activeElement.getAttribute("aria-label"))).toBe("React with 👍");
    await cat.page.keyboard.press("Enter");
    await messageWith(cat, "hello everyone").getByRole("button", { name: "👍 1: you", exact: true, pressed: true }).waitFor();
    for (const person of [ada, bob]) await messageWith(person, "hello everyone").getByRole("button", { name: `👍 1: ${catName}`, exact: true, pressed: false }).waitFor();
    await messageWith(ada, "hello everyone").getByRole("button", { name: `👍 1: ${catName}` }).click();
    await messageWith(bob, "hello everyone").getByRole("button", { name: `👍 2: ${catName}, ${adaName}`, exact: true }).waitFor();
    await messageWith(cat, "hello everyone").getByRole("button", { name: `👍 2: you, ${adaName}`, exact: true }).waitFor();

    // Bob deletes a message of his, after saying yes: "Message deleted" everywhere, its text nowhere.
    await say(bob, "oops, wrong group");
    for (const person of everyone) await messageWith(person, "oops").waitFor();
    await messageWith(bob, "oops").getByRole("button", { name: "Delete" }).click();
    await messageWith(bob, "oops").getByRole("group", { name: "Delete this message?" }).getByRole("button", { name: "Delete", exact: true }).click();
    const expected = ["hello everyone", "hi ada", "Message deleted"];
    for (const person of everyone) {
      await messageLog(person).locator("li.message.deleted .content", { hasText: "Message deleted" }).waitFor();
      expect(await contentsOf(person)).toEqual(expected);
    }
    // Others' messages offer no edit or delete.
    expect(await messageWith(bob, "hello everyone").getByRole("button", { name: "Edit" }).count()).toBe(0);

    // Bob leaves: the group leaves his list, and the others count two members.
    members = await membersDialog(bob);
    await members.getByRole("button", { name: "Leave group" }).click();
    await conversationRow(bob, new RegExp(groupName)).waitFor({ state: "detached" });
    await bob.page.getByText("Choose a conversation").waitFor();
    await bob.page.getByTestId("notice").filter({ hasText: `You left ${groupName}` }).waitFor();
    for (const person of [ada, cat]) await person.page.getByRole("button", { name: "2 members" }).waitFor();

    expect(everyone.flatMap((p) => p.problems)).toEqual([]);
  }, 180_000);
});
