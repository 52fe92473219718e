import type { Connection } from "mongoose";
import { Types } from "mongoose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { receiptId, type Models } from "@parley/shared/models";
import type { PointerJob } from "@parley/shared/queues";

import { testMongoUrl } from "../../../../test/helpers/env.js";
import { openModels } from "../../../../test/helpers/in-process-gateway.js";
import { seedUser } from "../../../../test/helpers/seed.js";
import { StateStore } from "./state-store.js";

let connection: Connection;
let models: Models;
let store: StateStore;

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("worker-state-store")));
  store = new StateStore(models);
});

afterAll(async () => {
  await connection?.close();
});

const pointer = (conversationId: string, userId: string, kind: PointerJob["kind"], seq: number, at = new Date()): PointerJob => ({
  conversationId,
  userId,
  kind,
  seq,
  at: at.toISOString(),
});

describe("StateStore.writePointers", () => {
  it("moves pointers forward only, whatever order and batches the jobs come in", async () => {
    const conversationId = new Types.ObjectId().toHexString();
    const userId = new Types.ObjectId().toHexString();
    await store.writePointers([pointer(conversationId, userId, "delivered", 7), pointer(conversationId, userId, "delivered", 5)]);
    await store.writePointers([pointer(conversationId, userId, "read", 4)]);
    await store.writePointers([pointer(conversationId, userId, "read", 2), pointer(conversationId, userId, "delivered", 6)]);
    const doc = await models.Receipt.findOne({ conversationId, userId }).lean();
    expect(doc).toMatchObject({ delivered: 7, read: 4 });
    expect(await models.Receipt.countDocuments({ conversationId, userId })).toBe(1);
  });

  it("lets concurrent batches create the same receipt: one inserts it, the others raise it", async () => {
    const conversationId = new Types.ObjectId().toHexString();
    const userIds = [0, 1, 2].map(() => new Types.ObjectId().toHexString());
    // Three batches at once, each the first write of the same three receipts: all but one insert of
    // each receipt lose a race with a duplicate key, and must still apply their pointers.
    await Promise.all(
      [3, 8, 5].map((seq) => store.writePointers(userIds.map((userId) => pointer(conversationId, userId, "read", seq)))),
    );
    const docs = await models.Receipt.find({ conversationId }).lean();
    expect(docs.map((d) => [d._id, d.userId.toHexString(), d.read, d.delivered]).sort()).toEqual(
      userIds.map((userId) => [receiptId(conversationId, userId), userId, 8, 8]).sort(),
    );
  });

  it("raises a receipt stored before, keyed by its pair", async () => {
    const conversationId = new Types.ObjectId();
    const userId = new Types.ObjectId();
    const _id = receiptId(conversationId.toHexString(), userId.toHexString());
    await models.Receipt.create({ _id, conversationId, userId, read: 2, delivered: 3 });
    await store.writePointers([pointer(conversationId.toHexString(), userId.toHexString(), "read", 6)]);
    expect(await models.Receipt.find({ conversationId }).lean()).toEqual([
      expect.objectContaining({ _id, read: 6, delivered: 6 }),
    ]);
  });

  it("counts a read as a delivery up to the same seq", async () => {
    const conversationId = new Types.ObjectId().toHexString();
    const userId = new Types.ObjectId().toHexString();
    await store.writePointers([pointer(conversationId, userId, "read", 9)]);
    expect(await models.Receipt.findOne({ conversationId, userId }).lean()).toMatchObject({ delivered: 9, read: 9 });
  });
});

describe("StateStore.writeLastSeen", () => {
  it("keeps the latest time", async () => {
    const user = await seedUser(models);
    const later = new Date("2026-11-22T10:00:00.000Z");
    const earlier = new Date("2026-11-22T09:00:00.000Z");
    await store.writeLastSeen([{ userId: user.id, lastSeen: later.toISOString() }]);
    await store.writeLastSeen([{ userId: user.id, lastSeen: earlier.toISOString() }]);
    expect((await models.User.findById(user.id).lean())?.lastSeen).toEqual(later);
  });
});
