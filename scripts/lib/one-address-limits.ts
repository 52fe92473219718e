/**
 * Environment for a cluster whose every client is one address (127.0.0.1): test harnesses, benchmarks,
 * the dashboard's load. The per-address limits (registrations, logins) and the per-user limits that
 * setting up a world hits (conversation creations, searches) are raised far out of reach; the per-user
 * message, typing and call limits and the per-username login limits keep their defaults. A test of one
 * of these limits sets its own values over these.
 */
const UNREACHABLE = { rate: "1000", burst: "1000000" };

/** `RATE_LIMIT_*` settings that no single-address setup reaches; see the module comment. */
export const ONE_ADDRESS_LIMITS: Readonly<Record<string, string>> = Object.fromEntries(
  ["REGISTER", "LOGIN_ADDRESS", "CONVERSATION", "SEARCH"].flatMap((action) => [
    [`RATE_LIMIT_${action}_RATE`, UNREACHABLE.rate],
    [`RATE_LIMIT_${action}_BURST`, UNREACHABLE.burst],
  ]),
);
