/**
 * The embedded FerretDB holds the write patterns of the persistence worker: large unordered bulk
 * updates of documents that exist (a retried batch, receipts, conversations), several at once.
 * Unpatched, FerretDB 1.24 keeps one pooled SQLite connection per statement that matched a document
 * until the whole update command ends, and stops answering anyone once its 100 are taken; and it lets
 * two concurrent updates of one document both read its old state, so the one written last undoes the
 * other; and it read a whole collection to find a document by `_id`, through an expression its `_id`
 * index does not match, or at all when the filter had any other condition beside `_id` (see
 * infra/ferretdb/patches/). On its own FerretDB, so that a regression fails here instead of freezing
 * the rest of the run. With MONGO_URL, the same checks run against that server.
 */
import { join } from "node:path";

import mongoose from "mongoose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startFerretDb, withDatabase, type FerretDb } from "../../scripts/lib/ferretdb.js";
import { testDir, uniqueSuffix } from "../helpers/env.js";

let ferret: FerretDb | undefined;
let connection: mongoose.Connection;

beforeAll(async () => {
  let uri = process.env.MONGO_URL;
  if (!uri) {
    ferret = await startFerretDb({ dataDir: join(testDir("ferretdb"), "data") });
    uri = ferret.uri;
  }
  // A stuck server must fail the test, not hang it.
  connection = await mongoose
    .createConnection(withDatabase(uri, `t_ferretdb_${uniqueSuffix()}`), { socketTimeoutMS: 10_000, serverSelectionTimeoutMS: 5_000 })
    .asPromise();
});

afterAll(async () => {
  await connection?.close();
  await ferret?.stop();
});

/** `n` upserts of fresh documents keyed `<prefix>-<i>`, as the worker writes a batch of messages. */
function upserts(prefix: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    updateOne: { filter: { _id: `${prefix}-${i}` }, update: { $setOnInsert: { seq: i } }, upsert: true },
  }));
}

/** `n` updates of the documents {@link upserts} stored, raising each one's seq. */
function raises(prefix: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    updateOne: { filter: { _id: `${prefix}-${i}` }, update: { $max: { seq: i + 1 } }, upsert: true },
  }));
}

describe("FerretDB under the worker's write pattern", () => {
  it("inserts 300 documents, then updates all 300 in one unordered bulk command", async () => {
    const docs = connection.collection<{ _id: string; seq: number }>("one_command");
    expect((await docs.bulkWrite(upserts("m", 300), { ordered: false })).upsertedCount).toBe(300);
    const result = await docs.bulkWrite(raises("m", 300), { ordered: false });
    expect(result.matchedCount).toBe(300);
    expect(result.modifiedCount).toBe(300);
    expect(await docs.countDocuments({ seq: { $gte: 1 } })).toBe(300);
  });

  it("updates existing documents in four concurrent commands of 60 statements, and answers a read after them", async () => {
    const docs = connection.collection<{ _id: string; seq: number }>("concurrent");
    await Promise.all([0, 1, 2, 3].map((k) => docs.bulkWrite(upserts(`c${k}`, 60), { ordered: false })));
    const results = await Promise.all([0, 1, 2, 3].map((k) => docs.bulkWrite(raises(`c${k}`, 60), { ordered: false })));
    expect(results.map((r) => r.modifiedCount)).toEqual([60, 60, 60, 60]);
    expect(await docs.countDocuments({ seq: { $gte: 1 } })).toBe(240);
  });

  it("applies every one of many concurrent $max updates of the same documents, as MongoDB does", async () => {
    const docs = connection.collection<{ _id: string; seq: number }>("same_documents");
    await docs.insertMany([0, 1, 2, 3, 4].map((i) => ({ _id: `d-${i}`, seq: 0 })));
    // 40 commands at once, each raising all five documents to its own seq: the highest must win.
    const seqs = Array.from({ length: 40 }, (_, k) => k + 1).sort(() => Math.random() - 0.5);
    await Promise.all(
      seqs.map((seq) =>
        docs.bulkWrite(
          [0, 1, 2, 3, 4].map((i) => ({ updateOne: { filter: { _id: `d-${i}` }, update: { $max: { seq } } } })),
          { ordered: false },
        ),
      ),
    );
    expect((await docs.find().sort({ _id: 1 }).toArray()).map((d) => d.seq)).toEqual([40, 40, 40, 40, 40]);
  });
  it("finds, updates and deletes by `_id` with other conditions beside it, through the `_id` index", async () => {
    const docs = connection.collection<{ _id: string; seq: number; tag?: string }>("by_id");
    await docs.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: `d-${i}`, seq: i })));

    expect(await docs.find({ _id: "d-7", seq: { $lt: 10 } }).toArray()).toEqual([{ _id: "d-7", seq: 7 }]);
    expect(await docs.find({ _id: "d-7", seq: { $gt: 10 } }).toArray()).toEqual([]);
    expect(await docs.countDocuments({ _id: "d-7", seq: 8 })).toBe(0);
    // The worker's conditional advance: only while the stored value is lower.
    expect((await docs.updateOne({ _id: "d-20", seq: { $lt: 20 } }, { $set: { seq: 99 } })).matchedCount).toBe(0);
    expect((await docs.updateOne({ _id: "d-20", seq: { $lt: 21 } }, { $set: { seq: 21 } })).modifiedCount).toBe(1);
    expect((await docs.updateOne({ _id: "d-21", "tag.x": { $exists: false }, seq: 21 }, { $set: { tag: "t" } })).modifiedCount).toBe(1);
    expect((await docs.deleteOne({ _id: "d-30", seq: 31 })).deletedCount).toBe(0);
    expect((await docs.deleteOne({ _id: "d-30", seq: 30 })).deletedCount).toBe(1);
    expect(await docs.aggregate([{ $match: { _id: "d-40", seq: { $gte: 40 } } }]).toArray()).toEqual([{ _id: "d-40", seq: 40 }]);
    expect(await docs.find({ _id: { $in: ["d-1", "d-2"] }, seq: 2 }).toArray()).toEqual([{ _id: "d-2", seq: 2 }]);
    expect(await docs.countDocuments({ seq: { $gte: 21 } })).toBe(29);
    // A set of keys, alone or beside other conditions; one that is not a string never narrows wrongly.
    expect((await docs.find({ _id: { $in: ["d-3", "d-1", "nope"] } }).sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual(["d-1", "d-3"]);
    expect(await docs.find({ _id: { $in: ["d-4", "d-5"] }, seq: { $gt: 4 } }).toArray()).toEqual([{ _id: "d-5", seq: 5 }]);
    expect(await docs.find({ _id: { $in: [] } }).toArray()).toEqual([]);
    expect((await docs.updateMany({ _id: { $in: ["d-8", "d-9"] } }, { $set: { tag: "in" } })).modifiedCount).toBe(2);
    expect(await docs.countDocuments({ tag: "in" })).toBe(2);
    const mixed = connection.collection<{ _id: string | number }>("by_id_mixed");
    await mixed.insertMany([{ _id: "a" }, { _id: 1 }]);
    expect((await mixed.find({ _id: { $in: ["a", 1] } }).toArray()).length).toBe(2);

    if (ferret) {
      // FerretDB's explain tells whether the filter narrowed the SQLite query, and SQLite's plan whether
      // it found the row through the `_id_` index or read the whole table.
      const explain = await connection.db!.command({ explain: { find: "by_id", filter: { _id: "d-7", seq: { $lt: 10 } } } });
      expect(explain).toMatchObject({ filterPushdown: true });
      expect(explain.queryPlanner.Plan).toEqual([expect.stringMatching(/SEARCH \S+ USING INDEX \S+__id_ /)]);
      const inExplain = await connection.db!.command({ explain: { find: "by_id", filter: { _id: { $in: ["d-1", "d-2"] } } } });
      expect(inExplain).toMatchObject({ filterPushdown: true });
      expect(inExplain.queryPlanner.Plan).toEqual([expect.stringMatching(/SEARCH \S+ USING INDEX \S+__id_ /)]);
    }
  });
});
