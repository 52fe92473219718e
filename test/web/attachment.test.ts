/**
 * Attachments in the web app: one person attaches a picture (a PNG made here with sharp, set on the
 * labelled file input) and a text file, with the upload's progress in the pending message; the other
 * sees the picture's thumbnail once the worker made it (an <img> that loaded), opens it full size, and
 * gets the text file as a link with its name and size; files dropped and pasted go out too.
 * A real cluster: the bytes go from the page straight to the object store and back.
 */
import sharp from "sharp";
import { describe, expect, it } from "vitest";

import { useCluster } from "../helpers/cluster.js";
import { conversationRow, messageLog, register, say, useBrowser, type Person } from "../helpers/web-app.js";

const fixture = useCluster("web-attachment");
const { open } = useBrowser(fixture);

/** The picture: large enough that its thumbnail is smaller than itself. */
const WIDTH = 1200;
const HEIGHT = 800;

/** What the page functions use of an image (this file is compiled without the DOM's types). */
interface LoadedImage {
  complete: boolean;
  naturalWidth: number;
}

interface PageGlobals {
  document: { body: unknown; querySelector(selector: string): unknown };
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: Record<string, boolean>): void };
  sawProgress: boolean;
}

/** What the drop and the paste are made with, in the page. */
interface BrowserGlobals {
  document: { querySelector(selector: string): { dispatchEvent(event: unknown): boolean } | null };
  DataTransfer: new () => { items: { add(file: unknown): void } };
  File: new (parts: string[], name: string, options: { type: string }) => unknown;
  DragEvent: new (type: string, init: Record<string, unknown>) => unknown;
  ClipboardEvent: new (type: string, init: Record<string, unknown>) => unknown;
}

/** The natural width of the <img> `selector` matches, once loaded. */
async function loadedWidth({ page }: Person, selector: string): Promise<number> {
  const handle = await page.waitForFunction(
    (sel) => {
      const img = (globalThis as unknown as { document: { querySelector(s: string): LoadedImage | null } }).document.querySelector(sel);
      return img?.complete && img.naturalWidth > 0 ? img.naturalWidth : false;
    },
    selector,
    { polling: 100 },
  );
  return (await handle.jsonValue()) as number;
}

describe("the web app's attachments", () => {
  it("sends a picture and a file: progress, the thumbnail on the other side, the full size on click, a download link; drop and paste", async () => {
    const suffix = Date.now().toString(36);
    const ada = await open(1280);
    await register(ada, `ada-${suffix}`);
    const bob = await open(1280);
    await register(bob, `bob-${suffix}`);
    await ada.page.getByLabel("Find a user").fill(`bob-${suffix}`);
    await ada.page.getByRole("button", { name: `Chat with bob-${suffix} (@bob-${suffix})` }).click();
    await say(ada, "a picture follows");
    await conversationRow(bob, new RegExp(`ada-${suffix}`)).click();
    await messageLog(bob).getByText("a picture follows").waitFor();

    const png = await sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: { r: 40, g: 120, b: 200 } } })
      .png()
      .toBuffer();
    // Records whether the pending message showed the picture's upload progress, however briefly.
    await ada.page.evaluate(() => {
      const win = globalThis as unknown as PageGlobals;
      win.sawProgress = false;
      const look = () => {
        if (win.document.querySelector('li.message progress[aria-label="Uploading lake.png"]')) win.sawProgress = true;
      };
      new win.MutationObserver(look).observe(win.document.body, { subtree: true, childList: true, attributes: true });
    });
    await ada.page.getByLabel("Attach files").setInputFiles([
      { name: "lake.png", mimeType: "image/png", buffer: png },
      { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("bring the map\n") },
    ]);

    // Ada's own copy: confirmed, shown as the picture.
    const adaImage = messageLog(ada).getByRole("button", { name: /^Open lake\.png/ });
    await adaImage.waitFor();
    expect(await ada.page.evaluate(() => (globalThis as unknown as PageGlobals).sawProgress)).toBe(true);
    // Bob: the thumbnail, loaded and smaller than the picture; the original in the dialog.
    const thumbnail = 'li.message img[alt="lake.png"][data-variant="thumbnail"]';
    const thumbWidth = await loadedWidth(bob, thumbnail);
    expect(thumbWidth).toBeGreaterThan(0);
    expect(thumbWidth).toBeLessThan(WIDTH);
    await messageLog(bob).getByRole("button", { name: /^Open lake\.png/ }).click();
    const full = bob.page.getByRole("dialog", { name: "lake.png" });
    await full.waitFor();
    expect(await loadedWidth(bob, "dialog.image-dialog img")).toBe(WIDTH);
    await full.getByRole("button", { name: "Close" }).click();
    await full.waitFor({ state: "hidden" });

    // The text file: a link with its name and size, to the file itself.
    const link = messageLog(bob).getByRole("link", { name: /notes\.txt/ });
    expect(await link.textContent()).toBe("notes.txt 14 B");
    const href = (await link.getAttribute("href")) ?? "";
    expect(await (await fetch(href)).text()).toBe("bring the map\n");

    // Bob drops a file on the messages and pastes another into the message box: Ada gets both.
    await bob.page.evaluate(() => {
      const win = globalThis as unknown as BrowserGlobals;
      const files = (name: string) => {
        const data = new win.DataTransfer();
        data.items.add(new win.File([`from ${name}`], name, { type: "text/plain" }));
        return data;
      };
      const log = win.document.querySelector('[role="log"]');
      log?.dispatchEvent(new win.DragEvent("drop", { dataTransfer: files("dropped.txt"), bubbles: true, cancelable: true }));
      const box = win.document.querySelector('textarea[aria-label="Message"]');
      box?.dispatchEvent(new win.ClipboardEvent("paste", { clipboardData: files("pasted.txt"), bubbles: true, cancelable: true }));
    });
    for (const name of ["dropped.txt", "pasted.txt"]) await messageLog(ada).getByRole("link", { name: new RegExp(name) }).waitFor();

    expect([...ada.problems, ...bob.problems]).toEqual([]);
  }, 120_000);
});
