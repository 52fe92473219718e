/**
 * The Kubernetes manifests under infra/k8s: parsed, cross-checked with one another (selectors, ports,
 * backends, autoscaling targets) and with the variables the code reads.
 */
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

import { ROOT } from "../../scripts/lib/paths.js";
import { allVariables, requiredVariablesOf, variablesOf, type ServiceName } from "../helpers/service-config.js";

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const dir = join(ROOT, "infra/k8s");
const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
const manifests: Manifest[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(dir, file), "utf8")).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map(String).join("; ")}`);
    return doc.toJS() as Manifest;
  }),
);
const find = (kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata.name === name);
const deployment = (name: string) => {
  const d = find("Deployment", name);
  if (!d) throw new Error(`no Deployment ${name}`);
  return d;
};
const configMap = find("ConfigMap", "parley-config")!;
const secret = find("Secret", "parley-secrets")!;

describe("infra/k8s", () => {
  it("lists every manifest in its kustomization", () => {
    const kustomization = manifests.find((m) => m.kind === "Kustomization") as unknown as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual(files.filter((f) => f !== "kustomization.yaml").sort());
  });

  it("has the Deployments, Services, autoscaler, disruption budget, Ingress, ConfigMap and Secret", () => {
    for (const [kind, name] of [
      ["Deployment", "gateway"], ["Deployment", "api"], ["Deployment", "worker"], ["Deployment", "web"],
      ["Service", "gateway"], ["Service", "api"], ["Service", "web"],
      ["HorizontalPodAutoscaler", "gateway"], ["PodDisruptionBudget", "gateway"],
      ["Ingress", "parley"], ["ConfigMap", "parley-config"], ["Secret", "parley-secrets"],
    ]) {
      expect(find(kind!, name!), `${kind} ${name}`).toBeDefined();
    }
  });

  it.each(["gateway", "api", "worker"] as const)("runs %s's entry point with probes, as non-root, with every variable it needs", (name: ServiceName) => {
    const spec = deployment(name).spec;
    expect(spec.selector.matchLabels).toEqual(
      Object.fromEntries(Object.entries(spec.selector.matchLabels).map(([k]) => [k, spec.template.metadata.labels[k]])),
    );
    const [container] = spec.template.spec.containers;
    expect(container.command).toEqual(["node", `services/${name}/dist/index.js`]);
    expect(existsSync(join(ROOT, "services", name, "src/index.ts"))).toBe(true);
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect(container.livenessProbe.httpGet.path).toBe("/healthz");
    expect(spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(container.envFrom).toEqual([{ configMapRef: { name: "parley-config" } }, { secretRef: { name: "parley-secrets" } }]);

    const provided = new Set([
      ...Object.keys(configMap.data ?? {}),
      ...Object.keys(secret.stringData ?? secret.data ?? {}),
      ...container.env.map((e: { name: string }) => e.name),
    ]);
    for (const required of requiredVariablesOf(name)) expect(provided.has(required), required).toBe(true);
    const port = container.env.find((e: { name: string }) => e.name === "PORT")?.value;
    expect(container.ports.find((p: { name: string }) => p.name === "http").containerPort).toBe(Number(port));
    // Every variable set here is one the service reads, or one another service reads (shared ConfigMap).
    expect(container.env.map((e: { name: string }) => e.name).filter((v: string) => !variablesOf(name).includes(v))).toEqual([]);
    // Drains before the kubelet kills: the grace period exceeds the service's shutdown deadline.
    const deadline = Number(container.env.find((e: { name: string }) => e.name === "SHUTDOWN_TIMEOUT_MS")?.value);
    expect(spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(deadline);
  });

  it("sets only variables that some service reads, in the ConfigMap and the Secret", () => {
    const known = allVariables();
    const keys = [...Object.keys(configMap.data ?? {}), ...Object.keys(secret.stringData ?? secret.data ?? {})];
    expect(keys.filter((k) => !known.has(k))).toEqual([]);
  });

  it("points Services, the autoscaler and the disruption budget at the right pods and ports", () => {
    for (const name of ["gateway", "api", "web"]) {
      const service = find("Service", name)!;
      const pod = deployment(name).spec.template;
      for (const [k, v] of Object.entries(service.spec.selector)) expect(pod.metadata.labels[k]).toBe(v);
      const ports = pod.spec.containers[0].ports.map((p: { name: string }) => p.name);
      for (const port of service.spec.ports) expect(ports).toContain(port.targetPort);
    }
    const hpa = find("HorizontalPodAutoscaler", "gateway")!;
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: "gateway" });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    const pdb = find("PodDisruptionBudget", "gateway")!;
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) expect(deployment("gateway").spec.template.metadata.labels[k]).toBe(v);
    // A rolling update never takes a gateway away before its replacement is ready.
    expect(deployment("gateway").spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it("serves the web app from the image's `web` stage, probed on a static file", () => {
    const spec = deployment("web").spec;
    const [container] = spec.template.spec.containers;
    expect(container.image).toBe("parley-web");
    expect(readFileSync(join(ROOT, "Dockerfile"), "utf8")).toMatch(/^FROM \S+ AS web$/m);
    const kustomization = manifests.find((m) => m.kind === "Kustomization") as unknown as { images: { name: string }[] };
    expect(kustomization.images.map((i) => i.name)).toContain("parley-web");
    // nginx.conf serves /sw.js from the built app itself (never proxied, never index.html in its place).
    expect(readFileSync(join(ROOT, "nginx.conf"), "utf8")).toContain("location = /sw.js");
    expect(container.readinessProbe.httpGet.path).toBe("/sw.js");
    expect(container.ports.find((p: { name: string }) => p.name === "http").containerPort).toBe(80);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it("gives the gateways and the API the Ingress host over TLS as their public origin", () => {
    const hosts = find("Ingress", "parley")!.spec.rules.map((r: { host: string }) => r.host);
    expect(hosts).toEqual([new URL(configMap.data!.PUBLIC_URL!).host]);
    expect(configMap.data!.PUBLIC_URL).toBe(`https://${hosts[0]}`);
    for (const name of ["gateway", "api"] as const) expect(variablesOf(name)).toContain("PUBLIC_URL");
  });

  it("routes the Ingress to existing Services, with cookie affinity for long-polling", () => {
    const ingress = find("Ingress", "parley")!;
    expect(ingress.metadata.annotations).toMatchObject({
      "nginx.ingress.kubernetes.io/affinity": "cookie",
      "nginx.ingress.kubernetes.io/session-cookie-path": "/socket.io/",
    });
    const timeout = Number(ingress.metadata.annotations!["nginx.ingress.kubernetes.io/proxy-read-timeout"]);
    expect(timeout).toBeGreaterThan(45);
    const paths = ingress.spec.rules.flatMap((r: any) => r.http.paths);
    expect(paths.map((p: any) => p.path)).toEqual(expect.arrayContaining(["/socket.io/", "/api/", "/"]));
    // The web app takes what no other path does: nothing of the API or Socket.IO reaches it.
    expect(paths.find((p: any) => p.path === "/")).toMatchObject({ pathType: "Prefix", backend: { service: { name: "web" } } });
    for (const path of paths) {
      const service = find("Service", path.backend.service.name);
      expect(service, path.backend.service.name).toBeDefined();
      expect(service!.spec.ports.map((p: { name: string }) => p.name)).toContain(path.backend.service.port.name);
    }
  });
});
