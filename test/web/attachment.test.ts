/**
 * Attachments in the web app: one person attaches a picture (a PNG made here with sharp, set on the
 * labelled file input) and a text file, with the upload's progress in the pending message; the other
 * sees the picture's thumbnail once the worker made it (an <img> that loaded), opens it full size, and
 * gets the text file as a link with its name and size; files dropped and pasted go out too. Then media:
 * a voice note recorded from Chromium's fake microphone (a beep), cancelled once and sent once, plays on
 * the other side with the duration the worker found; an uploaded WAV and a WebM video recorded from a
 * canvas show in players whose media loads; a microphone that goes away or is refused is said in an alert.
 * A real cluster: the bytes go from the page straight to the object store and back.
 */
import type { Locator } from "playwright-core";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";

import { useCluster } from "../helpers/cluster.js";
import { wav } from "../helpers/media.js";
import { conversationRow, FAKE_MEDIA_ARGS, messageLog, register, say, useBrowser, type Person } from "../helpers/web-app.js";

const fixture = useCluster("web-attachment");
// A fake microphone (a beep) and camera, granted without a prompt; players may start without a click.
const { open } = useBrowser(fixture, { args: FAKE_MEDIA_ARGS });

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

/** What the page functions use of an <audio> or <video> element. */
interface MediaElement {
  readyState: number;
  currentTime: number;
  videoWidth?: number;
  play(): Promise<void>;
  addEventListener(type: string, listener: () => void, options?: { once: boolean }): void;
}

/** What the page functions use of the microphones the app was given. */
interface MicrophoneGlobals {
  navigator: { mediaDevices: { getUserMedia(constraints: unknown): Promise<MediaStreamLike> } };
  microphones: MediaStreamLike[];
}
interface MediaStreamLike {
  getTracks(): { readyState: string; stop(): void }[];
}

/** What the page function recording a video from a canvas uses. */
interface CanvasGlobals {
  document: { createElement(tag: "canvas"): CanvasLike };
  MediaRecorder: new (stream: unknown, options: { mimeType: string }) => {
    ondataavailable: (event: { data: Blob }) => void;
    onstop: () => void;
    start(): void;
    stop(): void;
  };
  requestAnimationFrame(callback: () => void): void;
}
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: "2d"): { fillStyle: string; fillRect(x: number, y: number, w: number, h: number): void };
  captureStream(fps: number): unknown;
}

/** Resolves once the player's metadata loaded (`readyState` ≥ 1, HAVE_METADATA), with what it knows then. */
async function metadataLoaded(player: Locator): Promise<{ readyState: number; videoWidth?: number }> {
  return player.evaluate(
    (el) =>
      new Promise<{ readyState: number; videoWidth?: number }>((resolve, reject) => {
        const media = el as unknown as MediaElement;
        const done = () => resolve({ readyState: media.readyState, videoWidth: media.videoWidth });
        if (media.readyState >= 1) return done();
        media.addEventListener("loadedmetadata", done, { once: true });
        media.addEventListener("error", () => reject(new Error("the media did not load")), { once: true });
      }),
  );
}

/** Starts the player and resolves once it has played some of its media, with how much. */
async function plays(player: Locator): Promise<number> {
  return player.evaluate(async (el) => {
    const media = el as unknown as MediaElement;
    await media.play();
    return new Promise<number>((resolve) => {
      const check = () => {
        if (media.currentTime > 0) resolve(media.currentTime);
      };
      media.addEventListener("timeupdate", check);
      check();
    });
  });
}

/** Seconds of a player's clock text ("0:03" → 3, "1:02:03" → 3723). */
function seconds(clock: string): number {
  return clock.split(":").reduce((total, part) => total * 60 + Number(part), 0);
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
  let ada: Person;
  let bob: Person;
  beforeAll(async () => {
    const suffix = Date.now().toString(36);
    ada = await open(1280);
    await register(ada, `ada-${suffix}`);
    bob = await open(1280);
    await register(bob, `bob-${suffix}`);
    await ada.page.getByLabel("Find a user").fill(`bob-${suffix}`);
    await ada.page.getByRole("button", { name: `Chat with bob-${suffix} (@bob-${suffix})` }).click();
    await say(ada, "a picture follows");
    await conversationRow(bob, new RegExp(`ada-${suffix}`)).click();
    await messageLog(bob).getByText("a picture follows").waitFor();
  }, 60_000);

  it("sends a picture and a file: progress, the thumbnail on the other side, the full size on click, a download link; drop and paste", async () => {
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

  it("records a voice note (cancelled once, then sent) that plays on the other side; audio and video files play inline; a refused microphone is said", async () => {
    // Keeps every microphone stream the app gets, to see that each is released.
    await ada.page.evaluate(() => {
      const win = globalThis as unknown as MicrophoneGlobals;
      const devices = win.navigator.mediaDevices;
      const getUserMedia = devices.getUserMedia.bind(devices);
      win.microphones = [];
      devices.getUserMedia = async (constraints) => {
        const stream = await getUserMedia(constraints);
        win.microphones.push(stream);
        return stream;
      };
    });
    /** Resolves once every microphone stream the app got is released, with how many it got. */
    const released = async () => {
      const handle = await ada.page.waitForFunction(() => {
        const { microphones } = globalThis as unknown as MicrophoneGlobals;
        return microphones.length > 0 && microphones.every((s) => s.getTracks().every((t) => t.readyState === "ended")) ? microphones.length : false;
      });
      return (await handle.jsonValue()) as number;
    };
    const recorder = ada.page.getByRole("group", { name: "Voice note" });
    /** Records until the page shows at least a second recorded. */
    const recordASecond = async () => {
      await ada.page.getByRole("button", { name: "Record voice note" }).click();
      await recorder.getByRole("timer", { name: "Time recorded" }).filter({ hasText: /^0:(0[1-9]|[1-5]\d)$/ }).waitFor();
    };

    await recordASecond();
    await recorder.getByRole("button", { name: "Cancel voice note" }).click();
    await recorder.waitFor({ state: "hidden" });
    expect(await released()).toBe(1);

    await recordASecond();
    await recorder.getByRole("button", { name: "Send voice note" }).click();
    await recorder.waitFor({ state: "hidden" });
    expect(await released()).toBe(2);
    await messageLog(ada).getByRole("figure", { name: /^Voice note/ }).waitFor();

    // Bob: a voice note player whose media loads and plays, with the duration the worker found.
    const note = messageLog(bob).getByRole("figure", { name: /^Voice note, \d+:\d\d$/ });
    await note.waitFor();
    const label = (await note.getAttribute("aria-label")) ?? "";
    expect(seconds(label.replace("Voice note, ", ""))).toBeGreaterThanOrEqual(1);
    expect((await metadataLoaded(note.locator("audio"))).readyState).toBeGreaterThanOrEqual(1);
    expect(await plays(note.locator("audio"))).toBeGreaterThan(0);
    await note.getByRole("link", { name: /^Download voice-note-\d{4}-\d{2}-\d{2}-\d{4}\.webm/ }).waitFor();

    // Bob sends a WAV file and a short WebM video recorded from a canvas; Ada gets both as players.
    const clip = await bob.page.evaluate(async () => {
      const win = globalThis as unknown as CanvasGlobals;
      const canvas = win.document.createElement("canvas");
      canvas.width = 64;
      canvas.height = 48;
      const draw = canvas.getContext("2d");
      const media = new win.MediaRecorder(canvas.captureStream(30), { mimeType: "video/webm" });
      const chunks: Blob[] = [];
      media.ondataavailable = (event) => chunks.push(event.data);
      const stopped = new Promise<void>((resolve) => (media.onstop = resolve));
      media.start();
      for (let frame = 0; frame < 20; frame++) {
        draw.fillStyle = `hsl(${frame * 18} 80% 50%)`;
        draw.fillRect(0, 0, 64, 48);
        await new Promise<void>((resolve) => win.requestAnimationFrame(resolve));
      }
      media.stop();
      await stopped;
      return [...new Uint8Array(await new Blob(chunks).arrayBuffer())];
    });
    await bob.page.getByLabel("Attach files").setInputFiles([
      { name: "tone.wav", mimeType: "audio/wav", buffer: Buffer.from(wav(1500)) },
      { name: "clip.webm", mimeType: "video/webm", buffer: Buffer.from(clip) },
    ]);
    const tone = messageLog(ada).getByRole("figure", { name: "tone.wav, 0:01" });
    await tone.waitFor();
    expect((await metadataLoaded(tone.locator("audio"))).readyState).toBeGreaterThanOrEqual(1);
    await tone.getByRole("link", { name: /^Download tone\.wav/ }).waitFor();
    const video = messageLog(ada).getByRole("figure", { name: /^clip\.webm/ });
    expect(await metadataLoaded(video.locator("video"))).toMatchObject({ videoWidth: 64 });
    await video.getByRole("link", { name: /^Download clip\.webm/ }).waitFor();

    // A microphone that goes away while recording ends the recording, which is not sent.
    await recordASecond();
    await ada.page.evaluate(() => {
      const { microphones } = globalThis as unknown as MicrophoneGlobals;
      for (const track of microphones.at(-1)?.getTracks() ?? []) track.stop();
    });
    const gone = ada.page.getByRole("alert").filter({ hasText: "The microphone stopped" });
    await gone.waitFor();
    await recorder.waitFor({ state: "hidden" });
    await gone.getByRole("button", { name: "Dismiss" }).click();

    // The cancelled note and the one cut off never went: Ada's messages hold one note, pending or sent.
    expect(await messageLog(ada).locator("li.message").filter({ hasText: /voice-note-|Voice note/ }).count()).toBe(1);
    expect(await messageLog(bob).getByRole("figure", { name: /^Voice note/ }).count()).toBe(1);

    // A microphone refused: said in an alert, which can be dismissed.
    await ada.page.evaluate(() => {
      const win = globalThis as unknown as MicrophoneGlobals & { DOMException: new (message: string, name: string) => Error };
      win.navigator.mediaDevices.getUserMedia = () => Promise.reject(new win.DOMException("Permission denied", "NotAllowedError"));
    });
    await ada.page.getByRole("button", { name: "Record voice note" }).click();
    const alert = ada.page.getByRole("alert").filter({ hasText: "Microphone access is blocked" });
    await alert.waitFor();
    expect(await recorder.count()).toBe(0);
    await alert.getByRole("button", { name: "Dismiss" }).click();
    await alert.waitFor({ state: "hidden" });

    expect([...ada.problems, ...bob.problems]).toEqual([]);
  }, 120_000);
});
