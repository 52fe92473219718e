/**
 * Scenario settings from the environment (`k6 run -e NAME=value`, or the process environment), read
 * once in the init context and checked all at once: a bad value stops the run with every problem
 * listed by variable name, before anything starts.
 */

/** `500ms`, `10s`, `5m`, `1h`, `1h30m` or a bare number of seconds → milliseconds. */
export function parseDuration(text) {
  const value = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let consumed = "";
  for (const match of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * unit[match[2]];
    consumed += match[0];
  }
  if (!consumed || consumed !== value) throw new Error(`not a duration (like 500ms, 30s, 10m, 1h): ${value}`);
  return total;
}

/** Milliseconds → a k6 duration string. */
export function duration(ms) {
  return `${Math.ceil(ms)}ms`;
}

const parsers = {
  string: (raw) => raw,
  int: (raw, { min = -Infinity, max = Infinity }) => {
    if (!/^-?\d+$/.test(raw)) throw new Error("must be a whole number");
    return range(Number(raw), min, max);
  },
  number: (raw, { min = -Infinity, max = Infinity }) => {
    const value = Number(raw);
    if (raw === "" || !Number.isFinite(value)) throw new Error("must be a number");
    return range(value, min, max);
  },
  duration: (raw, { min = 0 }) => range(parseDuration(raw), min, Infinity, (v) => `${v} ms`),
  url: (raw) => {
    if (!/^https?:\/\/[^\s/]+/.test(raw)) throw new Error("must be an http(s):// URL");
    return raw.replace(/\/+$/, "");
  },
};

function range(value, min, max, show = String) {
  if (value < min) throw new Error(`must be at least ${show(min)}`);
  if (value > max) throw new Error(`must be at most ${show(max)}`);
  return value;
}

/**
 * Reads `spec` = `{ NAME: { type, default, min, max } }` (type: string, int, number, duration in ms,
 * url). A default may be a function of the values read so far (in spec order). Throws one error
 * naming every bad variable.
 */
export function readEnv(spec) {
  const values = {};
  const problems = [];
  for (const [name, rule] of Object.entries(spec)) {
    const raw = __ENV[name];
    if (raw === undefined || raw === "") {
      values[name] = typeof rule.default === "function" ? rule.default(values) : rule.default;
      continue;
    }
    try {
      values[name] = parsers[rule.type ?? "string"](raw, rule);
    } catch (err) {
      problems.push(`  - ${name}=${raw}: ${err.message}`);
    }
  }
  if (problems.length > 0) throw new Error(`invalid environment:\n${problems.join("\n")}`);
  return values;
}

/** Where the scenarios send REST calls and open sockets: `TARGET`, or `API_URL` / `SOCKET_URL`. */
export const TARGET_SPEC = {
  TARGET: { type: "url", default: "http://localhost:8080" },
  API_URL: { type: "url", default: (v) => v.TARGET },
  SOCKET_URL: { type: "url", default: (v) => v.TARGET },
};
