/**
 * The dashboards and the alert rules query only metrics that exist: on a real cluster, after some
 * traffic (messages across gateways, a refused event, API requests, a persisted batch), every metric
 * named in an `expr` of infra/grafana/dashboards/*.json or infra/prometheus/alerts.yml is in the
 * `/metrics` scrape of every process of the service it belongs to. And a real Prometheus scraping
 * that cluster evaluates every one of those expressions, and every alert rule, without an error.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";

import type { Message, MessagePersisted } from "@parley/protocol";

import { substituteVariables, unresolvedVariables } from "../../scripts/dashboard/panels.js";
import { ROOT } from "../../scripts/lib/paths.js";
import type { Service } from "../../scripts/lib/cluster.js";
import { clusterScrapeJobs, startPrometheus, type PromResponse } from "../../scripts/lib/prometheus.js";
import { closeAllClients, type ConnectedClient } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { testDir } from "../helpers/env.js";
import { eventually, nextEvent } from "../helpers/events.js";

const DASHBOARDS_DIR = join(ROOT, "infra", "grafana", "dashboards");
const ALERTS_FILE = join(ROOT, "infra", "prometheus", "alerts.yml");

/**
 * The metric names a PromQL expression selects: identifiers starting with `parley_`, `nodejs_` or
 * `process_`, outside string literals (label values). Prometheus's own series (`up`) are left out.
 */
function metricNames(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  return [...new Set(code.match(/(?<![A-Za-z0-9_:$])(?:parley|nodejs|process)_[A-Za-z0-9_:]*/g) ?? [])];
}

/** Every PromQL expression of a Grafana dashboard: panel targets' `expr`, at any depth, and template queries. */
function dashboardExpressions(dashboard: unknown): string[] {
  const found: string[] = [];
  const walk = (node: unknown, key?: string): void => {
    if (typeof node === "string") {
      if (key === "expr") found.push(node);
    } else if (Array.isArray(node)) {
      for (const item of node) walk(item);
    } else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) walk(v, k);
    }
  };
  walk(dashboard);
  const templates = (dashboard as { templating?: { list?: { type?: string; query?: unknown }[] } }).templating?.list ?? [];
  for (const template of templates) {
    const query = typeof template.query === "object" && template.query ? (template.query as { query?: unknown }).query : template.query;
    if (template.type === "query" && typeof query === "string") found.push(query);
  }
  return found;
}

/** Every `expr` of the dashboards and the alert rules, with where it comes from. */
function queriedExpressions(): { source: string; expr: string }[] {
  const dashboards = readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith(".json"));
  const fromDashboards = dashboards.flatMap((file) =>
    dashboardExpressions(JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), "utf8"))).map((expr) => ({ source: file, expr })),
  );
  const rules = parse(readFileSync(ALERTS_FILE, "utf8")) as { groups: { rules: { alert?: string; record?: string; expr: unknown }[] }[] };
  const fromAlerts = rules.groups.flatMap((group) =>
    group.rules.map((rule) => ({ source: `alerts.yml ${rule.alert ?? rule.record}`, expr: String(rule.expr) })),
  );
  return [...fromDashboards, ...fromAlerts];
}

type ServiceKind = "gateway" | "api" | "worker";

/** The services whose every process must expose `name`; undefined when no service owns such a name. */
function ownersOf(name: string): ServiceKind[] | undefined {
  if (name.startsWith("parley_gateway_")) return ["gateway"];
  if (name.startsWith("parley_api_")) return ["api"];
  if (name.startsWith("parley_worker_") || name.startsWith("parley_queue_")) return ["worker"];
  if (name.startsWith("parley_redis_") || name.startsWith("nodejs_") || name.startsWith("process_")) return ["gateway", "api", "worker"];
  return undefined;
}

/** The sample names of a Prometheus text exposition (histograms as `_bucket`, `_sum`, `_count`). */
function sampleNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split("\n")) {
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]/.exec(line);
    if (match) names.add(match[1]!);
  }
  return names;
}

async function scrape(service: Service): Promise<string> {
  const res = await fetch(service.metricsUrl);
  if (res.status !== 200) throw new Error(`${service.name}: GET ${service.metricsUrl} answered ${res.status}`);
  return res.text();
}

describe("PromQL metric names", () => {
  it("are the parley, nodejs and process identifiers outside label values, suffixes kept", () => {
    expect(
      metricNames('histogram_quantile(0.99, sum by (le, event) (rate(parley_gateway_ack_duration_seconds_bucket{event="parley_not_a_metric"}[$__rate_interval])))'),
    ).toEqual(["parley_gateway_ack_duration_seconds_bucket"]);
    expect(metricNames("max by (job, node) (nodejs_eventloop_lag_p99_seconds) > 0.2 and on() up == 1")).toEqual(["nodejs_eventloop_lag_p99_seconds"]);
    expect(metricNames("sum(rate(parley_worker_batch_size_sum[5m])) / sum(rate(parley_worker_batch_size_count[5m]))")).toEqual([
      "parley_worker_batch_size_sum",
      "parley_worker_batch_size_count",
    ]);
  });
});

describe("the metrics the dashboards and the alert rules query", () => {
  const fixture = useCluster("dashboard-metrics");
  afterAll(() => closeAllClients());

  /** Traffic that touches every recorder at least once on every process. */
  async function traffic(): Promise<void> {
    const { api, cluster } = fixture;
    const alice = await api.register("alice");
    const bob = await api.register("bob");
    const conversation = await api.direct(alice.token, bob.id);
    expect((await api.history(alice.token, conversation.id)).status).toBe(200);
    expect((await api.request("GET", "/api/nope")).status).toBe(404);

    // A client on every gateway, alternately Alice and Bob, so that every gateway sends and receives.
    const clients: ConnectedClient[] = [];
    for (let i = 0; i < cluster.gateways.length; i++) clients.push(await fixture.connectTo(i, i % 2 === 0 ? alice.token : bob.token));
    const other = (i: number) => clients[(i + 1) % clients.length]!;

    for (const [i, client] of clients.entries()) {
      const delivered = nextEvent<Message>(other(i).socket, "message:new");
      const persisted = nextEvent<MessagePersisted>(client.socket, "message:persisted", 15_000);
      const ack = await client.socket
        .timeout(5_000)
        .emitWithAck("message:send", { conversationId: conversation.id, clientMsgId: `m-${i}`, content: `hello from gateway ${i}` });
      expect(ack).toMatchObject({ ok: true });
      await delivered;
      await persisted;
      // Refused: validation fails, counted with its error code.
      const refused = await client.socket.timeout(5_000).emitWithAck("message:send", { conversationId: "nope" } as never);
      expect(refused).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    }
    // Every gateway sees one of its sockets go.
    for (const client of clients) client.socket.disconnect();
  }

  it("exist in the scrape of every process of the service they belong to", async () => {
    const queried = queriedExpressions();
    const names = [...new Set(queried.flatMap((q) => metricNames(q.expr)))].sort();
    // The parser found the queries: the alerts alone name these.
    expect(names).toEqual(expect.arrayContaining(["parley_worker_persist_lag_seconds_bucket", "parley_worker_jobs_failed_total", "nodejs_eventloop_lag_p99_seconds"]));

    const unowned = names.filter((name) => !ownersOf(name));
    expect(unowned, "metrics that no parley service can expose").toEqual([]);

    await traffic();
    const { cluster } = fixture;
    const processes: Record<ServiceKind, Service[]> = { gateway: cluster.gateways, api: [cluster.api], worker: [cluster.worker] };

    let missing: string[] = [];
    await eventually(
      async () => {
        const scrapes = new Map<Service, Set<string>>();
        for (const service of Object.values(processes).flat()) scrapes.set(service, sampleNames(await scrape(service)));
        missing = names.flatMap((name) =>
          ownersOf(name)!.flatMap((kind) =>
            processes[kind].filter((service) => !scrapes.get(service)!.has(name)).map((service) => {
              const sources = queried.filter((q) => metricNames(q.expr).includes(name)).map((q) => q.source);
              return `${name} (not in ${service.name}'s scrape; queried by ${[...new Set(sources)].join(", ")})`;
            }),
          ),
        );
        return missing.length === 0;
      },
      15_000,
      "every queried metric scraped",
    ).catch(() => undefined);
    expect(missing).toEqual([]);
  });

  it("are valid PromQL: a real Prometheus scraping the cluster evaluates each of them, and every alert rule, without an error", async () => {
    const prometheus = await startPrometheus({ dir: testDir("prometheus"), jobs: clusterScrapeJobs(fixture.cluster), scrapeIntervalSeconds: 1 });
    try {
      await prometheus.waitForScrapes(3);
      const context = { scrapeIntervalSeconds: 1, stepSeconds: 1 };
      const failed: string[] = [];
      for (const { source, expr } of queriedExpressions()) {
        const evaluated = substituteVariables(expr, context);
        const unresolved = unresolvedVariables(evaluated);
        if (unresolved.length > 0) {
          failed.push(`${source}: ${expr}: unknown variables ${unresolved.join(", ")}`);
          continue;
        }
        const res = await prometheus.query(evaluated);
        if (res.status !== "success") failed.push(`${source}: ${evaluated}: ${res.errorType} ${res.error}`);
      }
      expect(failed).toEqual([]);

      // The rule files loaded, and each rule has been evaluated at least once, cleanly.
      type Rules = { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
      let rules: { name: string; health: string; lastError?: string }[] = [];
      await eventually(
        async () => {
          const res = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as PromResponse<Rules>;
          rules = res.data?.groups.flatMap((g) => g.rules) ?? [];
          return rules.length > 0 && rules.every((r) => r.health !== "unknown");
        },
        15_000,
        "every alert rule evaluated",
      );
      expect(rules.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.health} ${r.lastError ?? ""}`)).toEqual([]);
    } finally {
      await prometheus.stop();
    }
  }, 90_000);

  it("are served on the internal metrics port only: the public origin and the service ports answer 404", async () => {
    const { cluster } = fixture;
    expect((await fetch(`${cluster.url}/metrics`)).status).toBe(404);
    for (const service of [cluster.api, cluster.worker, ...cluster.gateways]) {
      expect((await fetch(`${service.url}/metrics`)).status, service.name).toBe(404);
      const res = await fetch(service.metricsUrl);
      expect(res.status, service.name).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      // Every series carries the process's node label.
      expect(await res.text()).toMatch(/process_resident_memory_bytes\{node="[^"]+"\}/);
    }
  });
});
