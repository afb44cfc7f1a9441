// Cross-object checks of deploy/k8s that no schema can make: selectors that select the right
// pods, ports and probes that point at declared ports, references to ConfigMaps, Secrets and
// claims that exist, the GPU request, the pod hardening. Each returns its problems as text, so
// a test can assert "none" on the real manifests and "this one" on a deliberately broken copy.
// Call them only on objects that passed the schema check (deploy-k8s-schema.ts): they rely on
// the shapes the schema guarantees.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Manifest } from './deploy-k8s-schema.js';

export interface DeployResources {
  readonly deployments: IDeployment[];
  readonly services: IService[];
  readonly disruptionBudgets: IPodDisruptionBudget[];
  readonly serviceMonitors: IServiceMonitor[];
  readonly configMaps: IConfigMap[];
  readonly secrets: ISecret[];
  readonly claims: IPersistentVolumeClaim[];
}

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const WORKER_DEPLOYMENT = 'steadytune-worker';

/** Sorts validated objects by kind (the casts rest on the schema check having passed). */
export function byKind(manifests: readonly Manifest[]): DeployResources {
  const of = <T>(kind: string): T[] => manifests.filter((m) => m.object.kind === kind).map((m) => m.object as unknown as T);
  return {
    deployments: of<IDeployment>('Deployment'),
    services: of<IService>('Service'),
    disruptionBudgets: of<IPodDisruptionBudget>('PodDisruptionBudget'),
    serviceMonitors: of<IServiceMonitor>('ServiceMonitor'),
    configMaps: of<IConfigMap>('ConfigMap'),
    secrets: of<ISecret>('Secret'),
    claims: of<IPersistentVolumeClaim>('PersistentVolumeClaim'),
  };
}

type Labels = Readonly<Record<string, string>>;

/** An empty selector selects everything: never what a manifest here means. */
function selects(selector: Labels | undefined, labels: Labels | undefined): boolean {
  const pairs = Object.entries(selector ?? {});
  return pairs.length > 0 && pairs.every(([key, value]) => labels?.[key] === value);
}

const nameOf = (object: { metadata?: { name?: string } }): string => object.metadata?.name ?? '(unnamed)';
const podSpec = (deployment: IDeployment): IPodSpec | undefined => deployment.spec?.template.spec;
const podLabels = (deployment: IDeployment): Labels | undefined => deployment.spec?.template.metadata?.labels;
const containersOf = (deployment: IDeployment): IContainer[] => podSpec(deployment)?.containers ?? [];

function declaresPort(containers: readonly IContainer[], port: number | string): boolean {
  return containers.some((c) => (c.ports ?? []).some((p) => (typeof port === 'number' ? p.containerPort === port : p.name === port)));
}

function containerPort(container: IContainer, name: string): number | undefined {
  return container.ports?.find((p) => p.name === name)?.containerPort;
}

export function checkDeploymentSelectors(resources: DeployResources): string[] {
  const problems: string[] = [];
  for (const deployment of resources.deployments) {
    if (!selects(deployment.spec?.selector.matchLabels, podLabels(deployment))) {
      problems.push(`Deployment ${nameOf(deployment)}: spec.selector does not select its own pod template`);
    }
    for (const other of resources.deployments) {
      if (other !== deployment && selects(deployment.spec?.selector.matchLabels, podLabels(other))) {
        problems.push(`Deployment ${nameOf(deployment)}: its selector also selects the pods of ${nameOf(other)}`);
      }
    }
  }
  return problems;
}

/** Each Service selects the pods of exactly one Deployment and targets ports those pods declare. */
export function checkServices(resources: DeployResources): string[] {
  const problems: string[] = [];
  for (const service of resources.services) {
    const selected = resources.deployments.filter((d) => selects(service.spec?.selector, podLabels(d)));
    if (selected.length !== 1) {
      problems.push(`Service ${nameOf(service)}: selects the pods of ${selected.length} Deployments (${selected.map(nameOf).join(', ')}), expected 1`);
      continue;
    }
    for (const port of service.spec?.ports ?? []) {
      const target = port.targetPort ?? port.port;
      if (!declaresPort(containersOf(selected[0]), target)) {
        problems.push(`Service ${nameOf(service)}: port ${port.name ?? port.port} targets ${String(target)}, which ${nameOf(selected[0])}'s containers do not declare`);
      }
      if (port.name === 'grpc' && port.appProtocol !== 'grpc') problems.push(`Service ${nameOf(service)}: port grpc needs appProtocol: grpc`);
    }
  }
  return problems;
}

export function checkDisruptionBudgets(resources: DeployResources): string[] {
  const problems: string[] = [];
  for (const budget of resources.disruptionBudgets) {
    const selected = resources.deployments.filter((d) => selects(budget.spec?.selector?.matchLabels, podLabels(d)));
    if (selected.length !== 1) {
      problems.push(`PodDisruptionBudget ${nameOf(budget)}: selects the pods of ${selected.length} Deployments, expected 1`);
    } else if (typeof budget.spec?.minAvailable === 'number' && budget.spec.minAvailable >= (selected[0].spec?.replicas ?? 1)) {
      problems.push(`PodDisruptionBudget ${nameOf(budget)}: minAvailable ${budget.spec.minAvailable} >= replicas: node drains would block forever`);
    }
  }
  for (const deployment of resources.deployments) {
    if (!resources.disruptionBudgets.some((b) => selects(b.spec?.selector?.matchLabels, podLabels(deployment)))) {
      problems.push(`Deployment ${nameOf(deployment)}: no PodDisruptionBudget covers its pods`);
    }
  }
  return problems;
}

/** The ServiceMonitor reaches every pod that serves metrics, through Services with that port. */
export function checkServiceMonitors(resources: DeployResources): string[] {
  const problems: string[] = [];
  if (resources.serviceMonitors.length === 0) problems.push('no ServiceMonitor');
  const scrapedServices: IService[] = [];
  for (const monitor of resources.serviceMonitors) {
    const matched = resources.services.filter((s) => selects(monitor.spec.selector.matchLabels, s.metadata?.labels));
    if (matched.length === 0) problems.push(`ServiceMonitor ${nameOf(monitor)}: selects no Service`);
    for (const endpoint of monitor.spec.endpoints ?? []) {
      for (const service of matched) {
        if (!(service.spec?.ports ?? []).some((p) => p.name === endpoint.port)) {
          problems.push(`ServiceMonitor ${nameOf(monitor)}: endpoint port ${String(endpoint.port)} is not a port of Service ${nameOf(service)}`);
        } else {
          scrapedServices.push(service);
        }
      }
    }
  }
  for (const deployment of resources.deployments) {
    if (!containersOf(deployment).some((c) => containerPort(c, 'metrics') !== undefined)) continue;
    if (!scrapedServices.some((s) => selects(s.spec?.selector, podLabels(deployment)))) {
      problems.push(`Deployment ${nameOf(deployment)}: serves metrics but no ServiceMonitor scrapes its pods`);
    }
  }
  return problems;
}

function probePort(probe: IProbe): number | string | undefined {
  return probe.grpc?.port ?? probe.httpGet?.port ?? probe.tcpSocket?.port;
}

/** Startup, liveness and readiness probes on every container, each on a declared port. */
export function checkProbes(resources: DeployResources): string[] {
  const problems: string[] = [];
  for (const deployment of resources.deployments) {
    for (const container of containersOf(deployment)) {
      const where = `Deployment ${nameOf(deployment)} container ${container.name}`;
      for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
        const probe = container[kind];
        if (probe === undefined) {
          problems.push(`${where}: no ${kind}`);
          continue;
        }
        const port = probePort(probe);
        if (port === undefined) problems.push(`${where}: ${kind} has no grpc, httpGet or tcpSocket port`);
        else if (!declaresPort([container], port)) problems.push(`${where}: ${kind} probes port ${String(port)}, which the container does not declare`);
        if (probe.grpc !== undefined && probe.grpc.port !== containerPort(container, 'grpc')) {
          problems.push(`${where}: ${kind} speaks gRPC health to port ${probe.grpc.port}, not to the port named grpc`);
        }
      }
    }
  }
  return problems;
}

/** GPU workers ask for a GPU and can land on GPU nodes; nothing else holds one. */
export function checkGpu(resources: DeployResources): string[] {
  const problems: string[] = [];
  const worker = resources.deployments.find((d) => nameOf(d) === WORKER_DEPLOYMENT);
  if (worker === undefined) return [`no Deployment ${WORKER_DEPLOYMENT}`];
  for (const deployment of resources.deployments) {
    for (const container of containersOf(deployment)) {
      const gpus = Number(container.resources?.limits?.[GPU_RESOURCE] ?? 0);
      const where = `Deployment ${nameOf(deployment)} container ${container.name}`;
      if (deployment === worker && !(Number.isInteger(gpus) && gpus >= 1)) problems.push(`${where}: needs limits.${GPU_RESOURCE} >= 1`);
      if (deployment !== worker && gpus !== 0) problems.push(`${where}: holds a GPU but does not train`);
      if (deployment === worker && !(container.env ?? []).some((e) => e.name === 'STEADYTUNE_BACKEND' && e.value === 'tensorflow')) {
        problems.push(`${where}: needs STEADYTUNE_BACKEND=tensorflow, or a missing GPU binding would quietly fall back to wasm`);
      }
    }
  }
  const spec = podSpec(worker);
  if (Object.keys(spec?.nodeSelector ?? {}).length === 0) problems.push(`Deployment ${WORKER_DEPLOYMENT}: no nodeSelector for GPU nodes`);
  if (!(spec?.tolerations ?? []).some((t) => t.key === GPU_RESOURCE)) problems.push(`Deployment ${WORKER_DEPLOYMENT}: no toleration for the ${GPU_RESOURCE} taint`);
  return problems;
}

/** Non-root, read-only root filesystem with /tmp on an emptyDir, no privilege escalation. */
export function checkPodSecurity(resources: DeployResources): string[] {
  const problems: string[] = [];
  for (const deployment of resources.deployments) {
    const spec = podSpec(deployment);
    const where = `Deployment ${nameOf(deployment)}`;
    if (spec?.securityContext?.runAsNonRoot !== true) problems.push(`${where}: pod securityContext.runAsNonRoot must be true`);
    if ((spec?.securityContext?.runAsUser ?? 0) === 0) problems.push(`${where}: pod securityContext.runAsUser must be a non-zero uid`);
    if (spec?.enableServiceLinks !== false) problems.push(`${where}: enableServiceLinks must be false (service links inject STEADYTUNE_* variables)`);
    const volumes = new Map((spec?.volumes ?? []).map((v) => [v.name, v]));
    for (const container of containersOf(deployment)) {
      const at = `${where} container ${container.name}`;
      const context = container.securityContext;
      if (context?.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem must be true`);
      if (context?.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation must be false`);
      if (!(context?.capabilities?.drop ?? []).includes('ALL')) problems.push(`${at}: capabilities must drop ALL`);
      for (const mount of container.volumeMounts ?? []) {
        if (!volumes.has(mount.name)) problems.push(`${at}: mounts undeclared volume ${mount.name}`);
      }
      const tmp = (container.volumeMounts ?? []).find((m) => m.mountPath === '/tmp');
      if (tmp === undefined || volumes.get(tmp.name)?.emptyDir === undefined) problems.push(`${at}: /tmp must be an emptyDir (the root filesystem is read-only)`);
    }
  }
  return problems;
}

/** ConfigMaps, Secrets (and their keys) and claims that pods refer to exist in the manifests. */
export function checkReferences(resources: DeployResources): string[] {
  const problems: string[] = [];
  const configMaps = new Map(resources.configMaps.map((c) => [nameOf(c), new Set(Object.keys(c.data ?? {}))]));
  const secrets = new Map(resources.secrets.map((s) => [nameOf(s), new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})])]));
  const claims = new Set(resources.claims.map(nameOf));
  const need = (where: string, kind: string, known: ReadonlyMap<string, ReadonlySet<string>>, name: string, key?: string): void => {
    const keys = known.get(name);
    if (keys === undefined) problems.push(`${where}: refers to ${kind} ${name}, which is not in the manifests`);
    else if (key !== undefined && !keys.has(key)) problems.push(`${where}: ${kind} ${name} has no key ${key}`);
  };
  for (const deployment of resources.deployments) {
    const where = `Deployment ${nameOf(deployment)}`;
    for (const container of containersOf(deployment)) {
      for (const source of container.envFrom ?? []) {
        if (source.configMapRef !== undefined) need(where, 'ConfigMap', configMaps, source.configMapRef.name ?? '');
        if (source.secretRef !== undefined) need(where, 'Secret', secrets, source.secretRef.name ?? '');
      }
      for (const variable of container.env ?? []) {
        const fromSecret = variable.valueFrom?.secretKeyRef;
        const fromConfigMap = variable.valueFrom?.configMapKeyRef;
        if (fromSecret !== undefined) need(where, 'Secret', secrets, fromSecret.name ?? '', fromSecret.key);
        if (fromConfigMap !== undefined) need(where, 'ConfigMap', configMaps, fromConfigMap.name ?? '', fromConfigMap.key);
      }
    }
    for (const volume of podSpec(deployment)?.volumes ?? []) {
      if (volume.secret !== undefined) need(where, 'Secret', secrets, volume.secret.secretName ?? '');
      if (volume.configMap !== undefined) need(where, 'ConfigMap', configMaps, volume.configMap.name ?? '');
      if (volume.persistentVolumeClaim !== undefined && !claims.has(volume.persistentVolumeClaim.claimName)) {
        problems.push(`${where}: volume ${volume.name} uses claim ${volume.persistentVolumeClaim.claimName}, which is not in the manifests`);
      }
    }
  }
  return problems;
}

/**
 * The value each STEADYTUNE_* variable takes in a container (env over envFrom ConfigMaps);
 * undefined where it comes from a Secret.
 */
export function containerEnvironment(container: IContainer, resources: DeployResources): Map<string, string | undefined> {
  const environment = new Map<string, string | undefined>();
  for (const source of container.envFrom ?? []) {
    const configMap = resources.configMaps.find((c) => nameOf(c) === source.configMapRef?.name);
    for (const [key, value] of Object.entries(configMap?.data ?? {})) environment.set(key, value);
  }
  for (const variable of container.env ?? []) environment.set(variable.name, variable.value);
  return environment;
}

/** The ports and data directory the server is told match what the pod declares and mounts. */
export function checkServerSettings(resources: DeployResources): string[] {
  const problems: string[] = [];
  for (const deployment of resources.deployments) {
    for (const container of containersOf(deployment)) {
      const where = `Deployment ${nameOf(deployment)} container ${container.name}`;
      const environment = containerEnvironment(container, resources);
      for (const [variable, portName] of [['STEADYTUNE_PORT', 'grpc'], ['STEADYTUNE_METRICS_PORT', 'metrics']] as const) {
        const declared = containerPort(container, portName);
        if (String(declared) !== environment.get(variable)) {
          problems.push(`${where}: ${variable}=${String(environment.get(variable))} but the port named ${portName} is ${String(declared)}`);
        }
      }
      const dataDir = environment.get('STEADYTUNE_DATA_DIR');
      const dataMount = (container.volumeMounts ?? []).find((m) => m.mountPath === dataDir);
      const dataVolume = podSpec(deployment)?.volumes?.find((v) => v.name === dataMount?.name);
      if (dataVolume?.persistentVolumeClaim === undefined) {
        problems.push(`${where}: STEADYTUNE_DATA_DIR=${String(dataDir)} is not a mounted PersistentVolumeClaim`);
      }
    }
  }
  for (const claim of resources.claims) {
    if (!(claim.spec?.accessModes ?? []).includes('ReadWriteMany')) {
      problems.push(`PersistentVolumeClaim ${nameOf(claim)}: must be ReadWriteMany (API and worker pods on different nodes share it)`);
    }
  }
  return problems;
}

/** Every STEADYTUNE_* name the manifests set (env, ConfigMap and Secret keys). */
export function steadytuneVariables(resources: DeployResources): Set<string> {
  const names = new Set<string>();
  const add = (name: string): void => {
    if (name.startsWith('STEADYTUNE_')) names.add(name);
  };
  for (const deployment of resources.deployments) {
    for (const container of containersOf(deployment)) (container.env ?? []).forEach((v) => add(v.name));
  }
  for (const configMap of resources.configMaps) Object.keys(configMap.data ?? {}).forEach(add);
  for (const secret of resources.secrets) [...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})].forEach(add);
  return names;
}

/** Every STEADYTUNE_* name that appears anywhere in the server's sources. */
export function variablesTheServerReads(serverDir: string): Set<string> {
  const names = new Set<string>();
  for (const entry of readdirSync(serverDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.(ts|mts|mjs)$/.test(entry.name)) continue;
    const text = readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
    for (const match of text.matchAll(/\bSTEADYTUNE_[A-Z0-9_]+/g)) names.add(match[0]);
  }
  return names;
}
