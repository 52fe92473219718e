/** What each service reads from its environment, straight from the config schemas the services use. */
import type { z } from "zod";

import { apiConfigSchema } from "../../services/api/src/config.js";
import { gatewayConfigSchema } from "../../services/gateway/src/config.js";
import { workerConfigSchema } from "../../services/worker/src/config.js";

export const SERVICE_SCHEMAS = {
  gateway: gatewayConfigSchema,
  api: apiConfigSchema,
  worker: workerConfigSchema,
} as const satisfies Record<string, z.ZodObject>;

export type ServiceName = keyof typeof SERVICE_SCHEMAS;

/** Every variable `service` reads. */
export function variablesOf(service: ServiceName): string[] {
  return Object.keys(SERVICE_SCHEMAS[service].shape);
}

/** Every variable any service reads. */
export function allVariables(): Set<string> {
  return new Set(Object.keys(SERVICE_SCHEMAS).flatMap((s) => variablesOf(s as ServiceName)));
}

/** The variables `service` requires: those its schema refuses to leave unset. */
export function requiredVariablesOf(service: ServiceName): string[] {
  const result = SERVICE_SCHEMAS[service].safeParse({});
  if (result.success) return [];
  return result.error.issues
    .filter((issue) => issue.code === "invalid_type" && issue.path.length === 1)
    .map((issue) => String(issue.path[0]));
}

/** Variables named in an env file, set (`KEY=…`) or documented as commented defaults (`# KEY=…`). */
export function documentedVariables(envFile: string): { set: Map<string, string>; mentioned: Set<string> } {
  const set = new Map<string, string>();
  const mentioned = new Set<string>();
  for (const line of envFile.split("\n")) {
    const match = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match) continue;
    mentioned.add(match[2]!);
    if (!match[1]) set.set(match[2]!, match[3]!);
  }
  return { set, mentioned };
}
