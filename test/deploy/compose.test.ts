/**
 * docker-compose.yml, checked without a Docker engine by two real Compose parsers: Docker Compose v2's
 * own loader (compose-go, which validates against the official compose-spec JSON schema) and Debian's
 * docker-compose 1.29. Then the wiring: every service, port, volume and variable the code reads.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

import { loadConfig } from "@parley/shared/config";

import { CACHE_DIR, ROOT } from "../../scripts/lib/paths.js";
import { testDir } from "../helpers/env.js";
import { SERVICE_SCHEMAS, allVariables, documentedVariables, requiredVariablesOf, type ServiceName } from "../helpers/service-config.js";

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; target?: string };
  command?: string[];
  environment?: Record<string, string | null>;
  expose?: string[];
  ports?: { target: number; published?: string | number; host_ip?: string }[];
  volumes?: { type: string; source: string; target: string; read_only?: boolean }[];
  deploy?: { replicas?: number };
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
}
interface ComposeProject {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const envExample = readFileSync(join(ROOT, ".env.example"), "utf8");

/** A directory holding the compose file, what it mounts, and `.env` made from .env.example. */
function composeDir(extraEnv = ""): string {
  const dir = testDir("compose");
  copyFileSync(join(ROOT, "docker-compose.yml"), join(dir, "docker-compose.yml"));
  copyFileSync(join(ROOT, "nginx.conf"), join(dir, "nginx.conf"));
  copyFileSync(join(ROOT, "Dockerfile"), join(dir, "Dockerfile"));
  cpSync(join(ROOT, "infra"), join(dir, "infra"), { recursive: true });
  writeFileSync(join(dir, ".env"), envExample + extraEnv);
  return dir;
}

/** The project as Docker Compose v2 would load it. */
function loadWithComposeGo(dir: string): ComposeProject {
  const out = execFileSync(join(CACHE_DIR, "bin", "compose-check"), ["-file", join(dir, "docker-compose.yml"), "-env-file", join(dir, ".env")], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "" },
    encoding: "utf8",
  });
  return JSON.parse(out) as ComposeProject;
}

let project: ComposeProject;

beforeAll(() => {
  project = loadWithComposeGo(composeDir());
});

describe("docker-compose.yml parses", () => {
  it("with Docker Compose v2's loader and the official compose-spec schema", () => {
    expect(Object.keys(project.services).sort()).toEqual(["api", "gateway", "grafana", "mongo", "nginx", "prometheus", "redis", "s3", "s3-init", "worker"]);
  });

  it("with Debian's docker-compose, which sees the same services", () => {
    const dir = composeDir();
    const out = execFileSync("docker-compose", ["-f", join(dir, "docker-compose.yml"), "config"], { cwd: dir, encoding: "utf8" });
    const legacy = parseYaml(out) as { services: Record<string, unknown> };
    expect(Object.keys(legacy.services).sort()).toEqual(Object.keys(project.services).sort());
  });

  it("and refuses a compose file that breaks the schema", () => {
    const dir = composeDir();
    const file = join(dir, "docker-compose.yml");
    writeFileSync(file, readFileSync(file, "utf8").replace("    expose:\n", "    exposed:\n"));
    expect(() => loadWithComposeGo(dir)).toThrow(/exposed/);
  });
});

describe("docker-compose.yml wiring", () => {
  it("runs Redis with AOF and noeviction, as BullMQ requires, on a named volume", () => {
    const redis = project.services.redis!;
    expect(redis.command).toEqual(expect.arrayContaining(["--appendonly", "yes", "--maxmemory-policy", "noeviction"]));
    expect(redis.volumes).toContainEqual(expect.objectContaining({ type: "volume", source: "redis-data", target: "/data" }));
  });

  it("runs the official MongoDB image on a named volume", () => {
    const mongo = project.services.mongo!;
    expect(mongo.image).toMatch(/^mongo:\d/);
    expect(mongo.volumes).toContainEqual(expect.objectContaining({ type: "volume", source: "mongo-data", target: "/data/db" }));
  });

  it("scales the gateways by GATEWAYS (3 by default), and the api and worker likewise", () => {
    expect(project.services.gateway!.deploy?.replicas).toBe(3);
    const five = loadWithComposeGo(composeDir("\nGATEWAYS=5\nWORKERS=2\n"));
    expect(five.services.gateway!.deploy?.replicas).toBe(5);
    expect(five.services.worker!.deploy?.replicas).toBe(2);
  });

  it.each(["gateway", "api", "worker"] as const)("builds %s from the Dockerfile and runs its entry point", (name) => {
    const service = project.services[name]!;
    expect(service.build?.context).toBe(ROOT_OF(project));
    expect(service.command).toEqual(["node", `services/${name}/dist/index.js`]);
    expect(existsSync(join(ROOT, "services", name, "src", "index.ts"))).toBe(true);
    expect(service.depends_on).toMatchObject({ redis: { condition: "service_healthy" }, mongo: { condition: "service_healthy" } });
    // Longer than the longest SHUTDOWN_TIMEOUT_MS default (30 s), so a SIGTERM drains before SIGKILL.
    expect(parseDuration(service.stop_grace_period ?? "10s")).toBeGreaterThan(30);
  });

  it("exposes each service's port and metrics port, and nginx and Prometheus use the same ones", () => {
    const nginx = readFileSync(join(ROOT, "nginx.conf"), "utf8");
    const prometheus = parseYaml(readFileSync(join(ROOT, "infra/prometheus/prometheus.yml"), "utf8")) as {
      scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[];
    };
    for (const [name, port] of [["gateway", "3000"], ["api", "4000"], ["worker", "4100"]] as const) {
      const service = project.services[name]!;
      expect(service.environment?.PORT).toBe(port);
      expect(service.expose).toEqual(expect.arrayContaining([port, service.environment?.METRICS_PORT]));
      const job = prometheus.scrape_configs.find((c) => c.job_name === name);
      expect(job?.dns_sd_configs).toEqual([expect.objectContaining({ names: [name], port: Number(service.environment?.METRICS_PORT) })]);
      if (name !== "worker") expect(nginx).toContain(`server ${name}:${port}`);
    }
    expect(project.services.nginx!.ports).toEqual([expect.objectContaining({ target: 80, published: "8080" })]);
    // Monitoring is reachable from the host only.
    for (const name of ["prometheus", "grafana"]) {
      for (const port of project.services[name]!.ports ?? []) expect(port.host_ip).toBe("127.0.0.1");
    }
  });

  it("mounts the root nginx.conf and the committed monitoring configuration", () => {
    const mounts = (name: string) => (project.services[name]!.volumes ?? []).filter((v) => v.type === "bind");
    expect(mounts("nginx")).toEqual([expect.objectContaining({ source: join(ROOT_OF(project), "nginx.conf"), target: "/etc/nginx/nginx.conf", read_only: true })]);
    for (const [name, paths] of [["prometheus", ["infra/prometheus"]], ["grafana", ["infra/grafana/provisioning", "infra/grafana/dashboards"]]] as const) {
      for (const path of paths) {
        expect(mounts(name).map((m) => m.source)).toContain(join(ROOT_OF(project), path));
        expect(existsSync(join(ROOT, path))).toBe(true);
      }
    }
  });

  it("builds nginx from the Dockerfile's web stage, which puts the built web app where nginx.conf serves it", () => {
    const nginx = project.services.nginx!;
    expect(nginx.build).toMatchObject({ context: ROOT_OF(project), target: "web" });
    const root = /^\s*root (\S+); # local: web_root$/m.exec(readFileSync(join(ROOT, "nginx.conf"), "utf8"))?.[1];
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    const web = dockerfile.slice(dockerfile.search(/^FROM \S+ AS web$/m));
    expect(web.slice(0, web.indexOf("\nFROM "))).toContain(`COPY --from=build /app/packages/web/dist ${root}\n`);
  });

  it("lets the web app reach the object store where the services tell browsers it is", () => {
    const nginxConf = readFileSync(join(ROOT, "nginx.conf"), "utf8");
    const allowed = /map \$host \$parley_object_store_origins \{\s*default "([^"]*)";/.exec(nginxConf)?.[1];
    const published = project.services.api!.environment?.S3_PUBLIC_ENDPOINT;
    expect(allowed?.split(" ")).toEqual([new URL(published!).origin]);
  });

  it("runs an object store for attachments, with its bucket made before the services start, published for browsers", () => {
    const s3 = project.services.s3!;
    expect(s3.image).toMatch(/^ghcr\.io\/versity\/versitygw:v\d+\.\d+\.\d+$/);
    expect(s3.volumes).toContainEqual(expect.objectContaining({ type: "volume", source: "s3-data", target: "/data" }));
    expect(s3.ports).toContainEqual(expect.objectContaining({ target: 7070, published: "8081" }));
    for (const name of ["gateway", "api", "worker"]) {
      const service = project.services[name]!;
      expect(service.depends_on?.["s3-init"], name).toEqual(expect.objectContaining({ condition: "service_completed_successfully" }));
      expect(service.environment, name).toMatchObject({
        S3_ENDPOINT: "http://s3:7070",
        S3_PUBLIC_ENDPOINT: "http://localhost:8081",
        S3_BUCKET: "parley-attachments",
        S3_FORCE_PATH_STYLE: "true",
        S3_ACCESS_KEY_ID: expect.any(String),
        S3_SECRET_ACCESS_KEY: expect.any(String),
      });
    }
    expect(project.services["s3-init"]!.environment).toMatchObject({ PUBLIC_URL: "http://localhost:8080" });
  });

  it("declares every named volume it uses, and uses every one it declares", () => {
    const used = new Set(Object.values(project.services).flatMap((s) => (s.volumes ?? []).filter((v) => v.type === "volume").map((v) => v.source)));
    expect([...used].sort()).toEqual(Object.keys(project.volumes ?? {}).sort());
  });
});

describe("environment", () => {
  const { mentioned } = documentedVariables(envExample);

  it("documents every variable the code reads in .env.example", () => {
    const missing = [...allVariables()].filter((name) => !mentioned.has(name));
    expect(missing).toEqual([]);
  });

  it("documents nothing that no service reads (no typos)", () => {
    const compose = ["PUBLIC_PORT", "GATEWAYS", "API_REPLICAS", "WORKERS", "GRAFANA_ADMIN_USER", "GRAFANA_ADMIN_PASSWORD", "PROMETHEUS_RETENTION", "S3_PUBLIC_PORT"];
    const known = new Set([...allVariables(), ...compose]);
    expect([...mentioned].filter((name) => !known.has(name))).toEqual([]);
  });

  it("gives the gateways and the API the published nginx port as their public origin by default", () => {
    const published = project.services.nginx!.ports![0]!.published;
    for (const name of ["gateway", "api"] as const) {
      const env = { ...Object.fromEntries(documentedVariables(envExample).set), ...project.services[name]!.environment } as Record<string, string>;
      expect(loadConfig(SERVICE_SCHEMAS[name], env).PUBLIC_URL, name).toBe(`http://localhost:${published}`);
    }
  });

  it.each(["gateway", "api", "worker"] as const)("gives %s a valid configuration, every required variable set", (name: ServiceName) => {
    const environment = project.services[name]!.environment ?? {};
    for (const required of requiredVariablesOf(name)) expect(environment[required], required).toBeTruthy();
    const env = Object.fromEntries(Object.entries(environment).filter((e): e is [string, string] => typeof e[1] === "string"));
    expect(() => loadConfig(SERVICE_SCHEMAS[name], env)).not.toThrow();
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

  it("builds the web app with the services", () => {
    const build = dockerfile.slice(0, dockerfile.search(/^FROM \S+ AS web$/m));
    expect(build).toContain("COPY packages/web/package.json packages/web/\n");
    expect(build).toMatch(/npx tsc -b \\\n && npm run build --workspace @parley\/web \\\n/);
  });

  it("builds in stages and runs as an unprivileged user with a HEALTHCHECK", () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    const lastStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(lastStage).toMatch(/^USER (?!root)\w+/m);
    expect(lastStage).toMatch(/^HEALTHCHECK .*\/healthz/ms);
    expect(lastStage).not.toMatch(/npm install|tsc/);
  });

  it("keeps dependencies, data and secrets out of the build context", () => {
    const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
    expect(ignore).toEqual(expect.arrayContaining(["**/node_modules", "**/dist", ".env", ".data", ".cache", ".git"]));
  });
});

function parseDuration(value: string): number {
  const match = /^(\d+)(s|m)$/.exec(value);
  if (!match) throw new Error(`unexpected duration ${value}`);
  return Number(match[1]) * (match[2] === "m" ? 60 : 1);
}

/** compose-go resolves relative bind mounts against the compose file's directory. */
function ROOT_OF(p: ComposeProject): string {
  const source = p.services.nginx!.volumes![0]!.source;
  return source.slice(0, source.length - "/nginx.conf".length);
}
