/**
 * Scenario settings from the environment (`k6 run -e NAME=value`, or the process environment), read
 * once in the init context and checked all at once: a bad value stops the run with every problem
 * listed by variable name, before anything starts.
 */

/** @typedef {"string" | "int" | "number" | "duration" | "url"} EnvType */
/** @typedef {Readonly<Record<string, string | number | undefined>>} EnvSoFar */
/**
 * How to read one variable: its type (string by default), its default (or a function of the values
 * read before it) and, for numbers, its bounds.
 *
 * @typedef {object} EnvRule
 * @property {EnvType} [type]
 * @property {string | number | ((values: EnvSoFar) => string | number | undefined)} [default]
 * @property {number} [min]
 * @property {number} [max]
 */
/** @typedef {Record<string, EnvRule>} EnvSpec */
/**
 * The value read for rule `R`: a number for int, number and duration (ms), else a string; undefined
 * when unset without a default.
 *
 * @template {EnvRule} R
 * @typedef {(R extends { type: "int" | "number" | "duration" } ? number : string) | (R extends { default: unknown } ? never : undefined)} EnvValue
 */
/**
 * The values {@link readEnv} returns for spec `S`.
 *
 * @template {EnvSpec} S
 * @typedef {{ [K in keyof S]: EnvValue<S[K]> }} EnvValues
 */

/**
 * `500ms`, `10s`, `5m`, `1h`, `1h30m` or a bare number of seconds → milliseconds.
 *
 * @param {string | number} text
 * @returns {number}
 */
export function parseDuration(text) {
  const value = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let consumed = "";
  for (const match of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * unit[/** @type {keyof typeof unit} */ (match[2])];
    consumed += match[0];
  }
  if (!consumed || consumed !== value) throw new Error(`not a duration (like 500ms, 30s, 10m, 1h): ${value}`);
  return total;
}

/**
 * Milliseconds → a k6 duration string.
 *
 * @param {number} ms
 */
export function duration(ms) {
  return `${Math.ceil(ms)}ms`;
}

/** @type {Record<EnvType, (raw: string, rule: EnvRule) => string | number>} */
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

/**
 * @param {number} value
 * @param {number} min
 * @param {number} max
 * @param {(bound: number) => string} [show]
 */
function range(value, min, max, show = String) {
  if (value < min) throw new Error(`must be at least ${show(min)}`);
  if (value > max) throw new Error(`must be at most ${show(max)}`);
  return value;
}

/**
 * Reads `spec` = `{ NAME: { type, default, min, max } }` (type: string, int, number, duration in ms,
 * url). A default may be a function of the values read so far (in spec order). Throws one error
 * naming every bad variable.
 *
 * @template {EnvSpec} S
 * @param {S} spec
 * @returns {EnvValues<S>}
 */
export function readEnv(spec) {
  /** @type {Record<string, string | number | undefined>} */
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
      problems.push(`  - ${name}=${raw}: ${/** @type {Error} */ (err).message}`);
    }
  }
  if (problems.length > 0) throw new Error(`invalid environment:\n${problems.join("\n")}`);
  return /** @type {EnvValues<S>} */ (values);
}

/** Where the scenarios send REST calls and open sockets: `TARGET`, or `API_URL` / `SOCKET_URL`. */
export const TARGET_SPEC = /** @satisfies {EnvSpec} */ ({
  TARGET: { type: "url", default: "http://localhost:8080" },
  API_URL: { type: "url", default: (v) => v.TARGET },
  SOCKET_URL: { type: "url", default: (v) => v.TARGET },
});
