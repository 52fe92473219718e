/** Day separators: which local day a message is on, and what its separator says. */
import { describe, expect, it } from "vitest";

import { dayLabel, daysBefore, summaryOf, withDays } from "./format.js";

/** Noon on 2 December 2026, a Wednesday, local time. */
const NOW = new Date(2026, 11, 2, 12, 0);
const at = (month: number, day: number, hour = 12, minute = 0) => new Date(2026, month - 1, day, hour, minute);
const full = (date: Date) => new Intl.DateTimeFormat("en-GB", { dateStyle: "full" }).format(date);

describe("daysBefore", () => {
  it("counts local calendar days, not 24-hour spans", () => {
    expect(daysBefore(at(12, 2, 0, 0), NOW)).toBe(0);
    expect(daysBefore(at(12, 1, 23, 59), NOW)).toBe(1);
    expect(daysBefore(at(11, 30, 0, 1), NOW)).toBe(2);
    expect(daysBefore(at(12, 3, 0, 1), NOW)).toBe(-1);
    // Across a daylight saving change (where the zone has one) and a year's end.
    expect(daysBefore(at(3, 20), at(4, 10))).toBe(21);
    expect(daysBefore(at(10, 20), at(11, 10))).toBe(21);
    expect(daysBefore(new Date(2025, 11, 31, 23), new Date(2026, 0, 1, 1))).toBe(1);
  });
});

describe("dayLabel", () => {
  it("says Today, Yesterday, the weekday within the last week, else the full date", () => {
    expect(dayLabel(at(12, 2, 0, 0), NOW, "en-GB")).toBe("Today");
    expect(dayLabel(at(12, 2, 23, 59), NOW, "en-GB")).toBe("Today");
    expect(dayLabel(at(12, 1, 0, 0), NOW, "en-GB")).toBe("Yesterday");
    expect(dayLabel(at(11, 30), NOW, "en-GB")).toBe("Monday");
    expect(dayLabel(at(11, 26), NOW, "en-GB")).toBe("Thursday");
    // A week ago is the same weekday as today: a date, not a name that could mean either.
    expect(dayLabel(at(11, 25), NOW, "en-GB")).toBe(full(at(11, 25)));
    expect(dayLabel(at(11, 25), NOW, "en-GB")).toMatch(/^Wednesday,? 25 November 2026$/);
    expect(dayLabel(new Date(2025, 5, 1), NOW, "en-GB")).toBe(full(new Date(2025, 5, 1)));
    // A clock ahead of this one: the date, never a weekday of the past.
    expect(dayLabel(at(12, 4), NOW, "en-GB")).toBe(full(at(12, 4)));
  });

  it("writes weekdays and dates in the locale given", () => {
    expect(dayLabel(at(11, 30), NOW, "fr-FR")).toBe("lundi");
    expect(dayLabel(at(1, 5), NOW, "de-DE")).toBe("Montag, 5. Januar 2026");
  });
});

describe("withDays", () => {
  it("puts one separator before the first item of each local day, none between items of one day", () => {
    const items = [at(11, 30, 9), at(11, 30, 18), at(12, 1, 8), at(12, 2, 0, 5), at(12, 2, 11)].map((d) => d.toISOString());
    const dated = withDays(items, (iso) => iso, NOW, "en-GB");
    expect(dated.map((d) => (d.kind === "day" ? `[${d.label}]` : d.item))).toEqual([
      "[Monday]",
      items[0],
      items[1],
      "[Yesterday]",
      items[2],
      "[Today]",
      items[3],
      items[4],
    ]);
    expect(dated.flatMap((d) => (d.kind === "day" ? [d.key] : []))).toEqual(["2026-11-30", "2026-12-01", "2026-12-02"]);
  });

  it("takes numeric times (a pending message's queue time) and an empty list", () => {
    expect(withDays([NOW.getTime()], (t) => t, NOW)).toEqual([
      { kind: "day", key: "2026-12-02", label: "Today", date: NOW },
      { kind: "item", item: NOW.getTime() },
    ]);
    expect(withDays([], (t: number) => t, NOW)).toEqual([]);
  });
});

describe("a message in a line", () => {
  const file = (kind: string, name: string) => ({ kind, name });
  it("is its text, else what it carries", () => {
    expect(summaryOf({ content: "hi", attachments: [file("image", "a.png")] })).toBe("hi");
    expect(summaryOf({ content: "hi", deletedAt: "2026-12-02T10:00:00.000Z" })).toBe("Message deleted");
    expect(summaryOf({ content: "", attachments: [file("image", "a.png")] })).toBe("Photo");
    expect(summaryOf({ content: "", attachments: [file("audio", "voice-note-2026-12-02-1742.webm")] })).toBe("Voice note");
    expect(summaryOf({ content: "", attachments: [file("audio", "song.ogg")] })).toBe("Audio: song.ogg");
    expect(summaryOf({ content: "", attachments: [file("video", "clip.webm")] })).toBe("Video");
    expect(summaryOf({ content: "", attachments: [file("file", "report.pdf")] })).toBe("report.pdf");
    expect(summaryOf({ content: "", attachments: [file("file", "a.pdf"), file("image", "b.png")] })).toBe("2 attachments");
    expect(summaryOf({ content: "" })).toBe("");
  });
});
