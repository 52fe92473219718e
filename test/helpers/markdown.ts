/** Just enough Markdown reading for the documentation tests: sections, tables, links and anchors. */

/** The text of the `## heading` section of `markdown` (up to the next heading of that level or higher). */
export function section(markdown: string, heading: string): string {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => line === `## ${heading}`);
  if (start < 0) throw new Error(`no section "## ${heading}"`);
  const end = lines.findIndex((line, i) => i > start && /^#{1,2} /.test(line));
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

/** The body rows of every pipe table in `markdown`, each as its trimmed cells (header and rule left out). */
export function tableRows(markdown: string): string[][] {
  const rows: string[][] = [];
  const lines = markdown.split("\n");
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith("|") || /^\|[\s|:-]+\|$/.test(line) || /^\|[\s|:-]+\|$/.test(lines[i + 1] ?? "")) continue;
    rows.push(line.slice(1, -1).split(" | ").map((cell) => cell.trim()));
  }
  return rows;
}

/** The `code` spans of a piece of Markdown, in order. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
}

/** `markdown` without its fenced code blocks, whose brackets are code, not links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "");
}

/** The targets of the inline links and images of `markdown`, as written. */
export function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** Every anchor the headings of `markdown` define, repeated headings numbered as GitHub does. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const match of prose(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(match[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}
