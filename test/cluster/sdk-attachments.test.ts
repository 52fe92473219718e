/**
 * Files through the SDK (`@parley/client`) on a real cluster: nginx, two gateways, the API, the worker
 * and a real S3-compatible store (versitygw). Alice's client sends a PNG with a caption from one
 * gateway; Bob's, on the other, gets the message with its attachment, downloads the same bytes with a
 * URL from the SDK, and gets the worker's description (dimensions, thumbnail) in his store.
 */
import sharp from "sharp";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import type { TimelineMessage } from "@parley/client";

import { useCluster } from "../helpers/cluster.js";
import { eventually } from "../helpers/events.js";
import { disposeClients, sdkClientOn, until } from "../helpers/sdk.js";

const fixture = useCluster("sdk-attachments", { env: { RATE_LIMITS_ENABLED: "false" } });
afterEach(() => disposeClients());
afterAll(() => disposeClients());

/** A PNG of `width` × `height`. */
async function png(width: number, height: number): Promise<Uint8Array> {
  return new Uint8Array(await sharp({ create: { width, height, channels: 3, background: { r: 250, g: 120, b: 30 } } }).png().toBuffer());
}

/** The bytes `url` answers, fetched without any token, as an `<img>` would. */
async function download(url: string): Promise<{ bytes: Uint8Array; type: string | null }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  return { bytes: new Uint8Array(await res.arrayBuffer()), type: res.headers.get("content-type") };
}

describe("files through the SDK, across gateways", () => {
  it("Alice sends a PNG with a caption; Bob gets it, downloads the same bytes, then its thumbnail", async () => {
    const alice = await fixture.api.register("alice");
    const bob = await fixture.api.register("bob");
    const { id: conversationId } = await fixture.api.direct(alice.token, bob.id);
    const a = await sdkClientOn(fixture, 0, alice);
    const b = await sdkClientOn(fixture, 1, bob);
    const atAlice = a.conversation(conversationId);
    const atBob = b.conversation(conversationId);
    await until(atBob.messages, (m) => m.loaded, "Bob's first page");

    const bytes = await png(640, 480);
    const progress: number[] = [];
    atAlice.messages.subscribe(() => {
      const p = atAlice.messages.get().pending[0]?.attachments?.[0]?.progress;
      if (p !== undefined && p !== progress.at(-1)) progress.push(p);
    });
    const local = atAlice.sendFile(new File([bytes], "sunset.png", { type: "image/png" }), { caption: "tonight's sunset" });
    expect(local).toMatchObject({ state: "pending", content: "tonight's sunset", type: "image" });
    expect(local.attachments).toMatchObject([{ name: "sunset.png", size: bytes.byteLength, contentType: "image/png", kind: "image", progress: 0, uploaded: false }]);

    const mine = (m: TimelineMessage) => m.clientMsgId === local.clientMsgId;
    const sent = (await until(atAlice.messages, (m) => m.items.some(mine), "Alice's ack", 20_000)).items.find(mine)!;
    expect(sent.state === "sent" || sent.state === "persisted").toBe(true);
    expect(progress).toEqual([0, 1]);
    expect(a.outbox.get()).toEqual([]);
    const attachment = { id: expect.stringMatching(/^[0-9a-f]{24}$/), name: "sunset.png", size: bytes.byteLength, contentType: "image/png", kind: "image" };
    expect(sent).toMatchObject({ content: "tonight's sunset", type: "image", senderId: alice.id, attachments: [attachment] });

    const received = (await until(atBob.messages, (m) => m.items.some(mine), "the message at Bob's")).items.find(mine)!;
    expect(received).toMatchObject({ id: sent.id, seq: sent.seq, content: "tonight's sunset", attachments: [attachment] });
    const id = received.attachments![0]!.id;

    // Bob downloads exactly what Alice uploaded, with a URL from his SDK, shared by concurrent callers.
    const [url, again] = await Promise.all([b.attachments.url(id), b.attachments.url(id)]);
    expect(again).toBe(url);
    const original = await download(url);
    expect(Buffer.compare(original.bytes, bytes)).toBe(0);
    expect(original.type).toBe("image/png");

    // The worker describes the image: a new state (higher rev) with dimensions and a thumbnail, in both stores.
    const described = (m: TimelineMessage | undefined) => m?.attachments?.[0]?.thumbnail !== undefined;
    const atBobLater = (await until(atBob.messages, (m) => described(m.items.find(mine)), "the thumbnail at Bob's", 30_000)).items.find(mine)!;
    expect(atBobLater.rev).toBeGreaterThan(sent.rev ?? 0);
    expect(atBobLater.attachments).toEqual([{ ...attachment, id, width: 640, height: 480, thumbnail: { width: 320, height: 240, contentType: "image/webp" } }]);
    expect(atBobLater).toMatchObject({ id: sent.id, seq: sent.seq, content: "tonight's sunset" });
    await until(atAlice.messages, (m) => described(m.items.find(mine)), "the thumbnail at Alice's", 30_000);

    const thumbnail = await download(await b.attachments.url(id, { variant: "thumbnail" }));
    expect(thumbnail.type).toBe("image/webp");
    expect(await sharp(thumbnail.bytes).metadata()).toMatchObject({ format: "webp", width: 320, height: 240 });

    // Stored once, with the description.
    const { Message } = await fixture.models();
    const stored = await eventually(async () => {
      const docs = await Message.find({ conversationId }).lean();
      return docs.length === 1 && docs[0]?.rev === atBobLater.rev ? docs : undefined;
    }, 20_000, "the described message stored");
    expect(stored[0]?.clientMsgId).toBe(local.clientMsgId);
  });
});
