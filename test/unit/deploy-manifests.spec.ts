// deploy/k8s: every object against its Kubernetes schema with unknown fields refused, the
// kustomization against the folder, and the cross-object wiring (selectors, ports, probes,
// references, GPU, hardening). The second half breaks copies of the real manifests and checks
// that each check notices, so none of them can pass by checking nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import {
  byKind,
  checkDeploymentSelectors,
  checkDisruptionBudgets,
  checkGpu,
  checkPodSecurity,
  checkProbes,
  checkReferences,
  checkServerSettings,
  checkServiceMonitors,
  checkServices,
  GPU_RESOURCE,
  steadytuneVariables,
  variablesTheServerReads,
  WORKER_DEPLOYMENT,
  type DeployResources,
} from '../fixtures/deploy-k8s-checks.js';
import {
  isRecord,
  KUSTOMIZATION_FILE,
  parseManifestFile,
  schemaProblems,
  unknownFields,
  type Manifest,
} from '../fixtures/deploy-k8s-schema.js';
import { checkImages, checkKustomization } from '../fixtures/deploy-kustomization.js';

const K8S_DIR = fileURLToPath(new URL('../../deploy/k8s/', import.meta.url));
const SERVER_DIR = fileURLToPath(new URL('../../server/', import.meta.url));

/**
 * Set in the manifests as the intended scale-out interface (docs/ARCHITECTURE.md, Runtime
 * roles) before the server reads them. Drop a name here once the server implements it.
 */
const PLANNED_SCALE_OUT_VARIABLES = ['STEADYTUNE_MODE', 'STEADYTUNE_REDIS_URL', 'STEADYTUNE_DATABASE_URL'];

const manifestFiles = readdirSync(K8S_DIR)
  .filter((file) => /\.ya?ml$/.test(file) && file !== KUSTOMIZATION_FILE)
  .sort();
const kustomization: unknown = parseYaml(readFileSync(path.join(K8S_DIR, KUSTOMIZATION_FILE), 'utf8'), { version: '1.1' });
assert.ok(isRecord(kustomization), 'kustomization.yaml is a mapping');
const manifests = manifestFiles.flatMap((file) => parseManifestFile(K8S_DIR, file));

const CROSS_CHECKS: ReadonlyArray<[string, (resources: DeployResources) => string[]]> = [
  ['Deployment selectors select their own pods only', checkDeploymentSelectors],
  ['each Service selects one Deployment and targets declared ports', checkServices],
  ['PodDisruptionBudgets cover each Deployment', checkDisruptionBudgets],
  ['the ServiceMonitor scrapes every pod that serves metrics', checkServiceMonitors],
  ['probes point at declared container ports', checkProbes],
  ['workers hold a GPU and land on GPU nodes; nothing else holds one', checkGpu],
  ['pods run non-root with a read-only root filesystem', checkPodSecurity],
  ['referenced ConfigMaps, Secrets, keys and claims exist', checkReferences],
  ['the server is told the ports and data directory the pod has', checkServerSettings],
];

describe('deploy/k8s manifests', () => {
  test('kustomization.yaml lists exactly the manifest files and uses known fields', () => {
    assert.ok(manifestFiles.length >= 9, `found only ${manifestFiles.join(', ')}`);
    assert.deepEqual(checkKustomization(kustomization, manifestFiles), []);
  });

  test('every object passes its kubernetes-models schema', () => {
    assert.deepEqual(manifests.flatMap(schemaProblems), []);
  });

  test('no object has a field its schema does not define', () => {
    assert.deepEqual(manifests.flatMap(unknownFields), []);
  });

  test('the expected objects are all there', () => {
    const names = manifests.map((m) => `${String(m.object.kind)}/${String(isRecord(m.object.metadata) ? m.object.metadata.name : '')}`);
    for (const expected of [
      'Namespace/steadytune',
      'Deployment/steadytune-api',
      `Deployment/${WORKER_DEPLOYMENT}`,
      'Service/steadytune-api',
      'ConfigMap/steadytune-config',
      'Secret/steadytune-tokens',
      'PersistentVolumeClaim/steadytune-data',
      'ServiceMonitor/steadytune',
    ]) {
      assert.ok(names.includes(expected), `missing ${expected}`);
    }
    assert.ok(manifests.filter((m) => m.object.kind === 'PodDisruptionBudget').length >= 1);
  });

  test('the namespace enforces Pod Security "restricted"', () => {
    const namespace = manifests.find((m) => m.object.kind === 'Namespace')?.object;
    const labels = isRecord(namespace?.metadata) && isRecord(namespace.metadata.labels) ? namespace.metadata.labels : {};
    assert.equal(labels['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  for (const [name, check] of CROSS_CHECKS) {
    test(name, () => assert.deepEqual(check(byKind(manifests)), []));
  }

  test('images are pinned and all rewritten by kustomization images', () => {
    assert.deepEqual(checkImages(kustomization, byKind(manifests).deployments), []);
  });

  test('every STEADYTUNE_* variable set is one the server reads, or a planned scale-out one', () => {
    const known = variablesTheServerReads(SERVER_DIR);
    assert.ok(known.has('STEADYTUNE_PORT') && known.has('STEADYTUNE_TOKENS_FILE'), 'server variables found');
    const unknown = [...steadytuneVariables(byKind(manifests))].filter((v) => !known.has(v) && !PLANNED_SCALE_OUT_VARIABLES.includes(v));
    assert.deepEqual(unknown, []);
  });
});

// ------------------------------------------------------------------------------------------------
// Broken copies: each mutation must be caught by the check responsible for it.

const copyOf = (): Manifest[] => manifests.map((m) => ({ ...m, object: structuredClone(m.object) }));

function deploymentIn(copy: readonly Manifest[], name: string): IDeployment {
  const found = copy.find((m) => m.object.kind === 'Deployment' && isRecord(m.object.metadata) && m.object.metadata.name === name);
  assert.ok(found !== undefined, `no Deployment ${name}`);
  return found.object as unknown as IDeployment;
}

function firstContainer(deployment: IDeployment): IContainer {
  const container = deployment.spec?.template.spec?.containers[0];
  assert.ok(container !== undefined);
  return container;
}

function objectIn(copy: readonly Manifest[], kind: string, name: string): Record<string, unknown> {
  const found = copy.find((m) => m.object.kind === kind && isRecord(m.object.metadata) && m.object.metadata.name === name);
  assert.ok(found !== undefined, `no ${kind} ${name}`);
  return found.object;
}

function assertCaught(problems: readonly string[], expected: RegExp): void {
  assert.ok(
    problems.some((p) => expected.test(p)),
    `expected a problem matching ${expected}, got ${JSON.stringify(problems)}`,
  );
}

describe('the manifest checks reject broken copies', () => {
  test('a misspelt field, nested or top-level', () => {
    const copy = copyOf();
    const worker = deploymentIn(copy, WORKER_DEPLOYMENT) as unknown as Record<string, unknown>;
    const container = firstContainer(worker as unknown as IDeployment) as unknown as Record<string, unknown>;
    container.readinesProbe = container.readinessProbe;
    delete container.readinessProbe;
    worker.sepc = {};
    const problems = copy.flatMap(unknownFields);
    assertCaught(problems, /unknown field \.spec\.template\.spec\.containers\[0\]\.readinesProbe/);
    assertCaught(problems, /unknown field \.sepc/);
    assertCaught(checkProbes(byKind(copy)), /no readinessProbe/);
  });

  test('a misspelt field in the ServiceMonitor custom resource', () => {
    const copy = copyOf();
    const monitor = objectIn(copy, 'ServiceMonitor', 'steadytune');
    assert.ok(isRecord(monitor.spec) && Array.isArray(monitor.spec.endpoints) && isRecord(monitor.spec.endpoints[0]));
    monitor.spec.endpoints[0].intervall = '30s';
    assertCaught(copy.flatMap(unknownFields), /unknown field \.spec\.endpoints\[0\]\.intervall/);
  });

  test('a value of the wrong type', () => {
    const copy = copyOf();
    const api = deploymentIn(copy, 'steadytune-api') as unknown as { spec: Record<string, unknown> };
    api.spec.replicas = 'two';
    assertCaught(copy.flatMap(schemaProblems), /steadytune-api.*replicas/);
  });

  test('a kind with no model', () => {
    const copy = copyOf();
    copy.push({ file: 'extra.yaml', index: 0, object: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } } });
    assertCaught(copy.flatMap(schemaProblems), /no schema for example\.com\/v1\/Widget/);
  });

  test('a duplicated key in a YAML file', () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'steadytune-k8s-'));
    try {
      writeFileSync(path.join(folder, 'dup.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n');
      assert.throws(() => parseManifestFile(folder, 'dup.yaml'), /dup\.yaml.*(unique|duplicate)/i);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('a kustomization that misses a file, lists a missing one, or uses commonLabels', () => {
    const resources = manifestFiles.filter((file) => file !== 'pdb.yaml').concat('gone.yaml');
    const problems = checkKustomization({ ...kustomization, resources, commonLabels: { a: 'b' } }, manifestFiles);
    assertCaught(problems, /resources misses pdb\.yaml/);
    assertCaught(problems, /lists gone\.yaml/);
    assertCaught(problems, /deprecated field commonLabels/);
  });

  test('a probe on a port the container does not declare', () => {
    const copy = copyOf();
    const probe = firstContainer(deploymentIn(copy, 'steadytune-api')).livenessProbe;
    assert.ok(probe?.grpc !== undefined);
    probe.grpc.port = 50052;
    assertCaught(checkProbes(byKind(copy)), /livenessProbe probes port 50052/);
  });

  test('a Service whose selector matches no pods, or a port no container declares', () => {
    const copy = copyOf();
    const service = objectIn(copy, 'Service', 'steadytune-api') as {
      spec: { selector: Record<string, string>; ports: { targetPort: string }[] };
    };
    service.spec.selector['app.kubernetes.io/component'] = 'apii';
    assertCaught(checkServices(byKind(copy)), /Service steadytune-api: selects the pods of 0 Deployments/);
    service.spec.selector['app.kubernetes.io/component'] = 'api';
    service.spec.ports[0].targetPort = 'grcp';
    assertCaught(checkServices(byKind(copy)), /targets grcp/);
  });

  test('a selector that selects both Deployments', () => {
    const copy = copyOf();
    const service = objectIn(copy, 'Service', 'steadytune-api') as { spec: { selector: Record<string, string> } };
    delete service.spec.selector['app.kubernetes.io/component'];
    assertCaught(checkServices(byKind(copy)), /selects the pods of 2 Deployments/);
  });

  test('a PodDisruptionBudget that selects nothing', () => {
    const copy = copyOf();
    const budget = objectIn(copy, 'PodDisruptionBudget', 'steadytune-worker') as {
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    budget.spec.selector.matchLabels['app.kubernetes.io/component'] = 'gpu-worker';
    const problems = checkDisruptionBudgets(byKind(copy));
    assertCaught(problems, /PodDisruptionBudget steadytune-worker: selects the pods of 0/);
    assertCaught(problems, /Deployment steadytune-worker: no PodDisruptionBudget/);
  });

  test('a ServiceMonitor endpoint port that no Service has', () => {
    const copy = copyOf();
    const monitor = objectIn(copy, 'ServiceMonitor', 'steadytune') as { spec: { endpoints: { port: string }[] } };
    monitor.spec.endpoints[0].port = 'prometheus';
    const problems = checkServiceMonitors(byKind(copy));
    assertCaught(problems, /endpoint port prometheus is not a port of Service steadytune-api/);
    assertCaught(problems, /serves metrics but no ServiceMonitor scrapes its pods/);
  });

  test('a worker without a GPU limit or GPU toleration, and an API pod with a GPU', () => {
    const copy = copyOf();
    const worker = deploymentIn(copy, WORKER_DEPLOYMENT);
    delete firstContainer(worker).resources?.limits?.[GPU_RESOURCE];
    const podSpec = worker.spec?.template.spec;
    assert.ok(podSpec !== undefined);
    podSpec.tolerations = [];
    const apiLimits = firstContainer(deploymentIn(copy, 'steadytune-api')).resources?.limits;
    assert.ok(apiLimits !== undefined);
    apiLimits[GPU_RESOURCE] = 1;
    const problems = checkGpu(byKind(copy));
    assertCaught(problems, /steadytune-worker container steadytune: needs limits\.nvidia\.com\/gpu/);
    assertCaught(problems, /no toleration/);
    assertCaught(problems, /steadytune-api container steadytune: holds a GPU/);
  });

  test('a writable root filesystem, root user, or service links', () => {
    const copy = copyOf();
    const api = deploymentIn(copy, 'steadytune-api');
    const context = firstContainer(api).securityContext;
    assert.ok(context !== undefined && api.spec?.template.spec?.securityContext !== undefined);
    context.readOnlyRootFilesystem = false;
    api.spec.template.spec.securityContext.runAsUser = 0;
    api.spec.template.spec.enableServiceLinks = true;
    const problems = checkPodSecurity(byKind(copy));
    assertCaught(problems, /readOnlyRootFilesystem must be true/);
    assertCaught(problems, /runAsUser must be a non-zero uid/);
    assertCaught(problems, /enableServiceLinks must be false/);
  });

  test('a reference to a Secret key that does not exist', () => {
    const copy = copyOf();
    const variable = firstContainer(deploymentIn(copy, 'steadytune-api')).env?.find((e) => e.valueFrom?.secretKeyRef !== undefined);
    assert.ok(variable?.valueFrom?.secretKeyRef !== undefined);
    variable.valueFrom.secretKeyRef.key = 'REDIS';
    assertCaught(checkReferences(byKind(copy)), /has no key REDIS/);
  });

  test('a ConfigMap port that disagrees with the container port', () => {
    const copy = copyOf();
    const config = objectIn(copy, 'ConfigMap', 'steadytune-config') as { data: Record<string, string> };
    config.data.STEADYTUNE_PORT = '50052';
    assertCaught(checkServerSettings(byKind(copy)), /STEADYTUNE_PORT=50052 but the port named grpc is 50051/);
  });

  test('an unpinned image, or one kustomize cannot rewrite', () => {
    const copy = copyOf();
    firstContainer(deploymentIn(copy, 'steadytune-api')).image = 'steadytune-cpu:latest';
    firstContainer(deploymentIn(copy, WORKER_DEPLOYMENT)).image = 'docker.io/other/steadytune:1.0';
    const problems = checkImages(kustomization, byKind(copy).deployments);
    assertCaught(problems, /steadytune-api.*is not pinned/);
    assertCaught(problems, /image docker\.io\/other\/steadytune is not in kustomization images/);
  });

  test('a STEADYTUNE_* variable the server does not know', () => {
    const copy = copyOf();
    const config = objectIn(copy, 'ConfigMap', 'steadytune-config') as { data: Record<string, string> };
    config.data.STEADYTUNE_PROT = '50051';
    const known = variablesTheServerReads(SERVER_DIR);
    const unknown = [...steadytuneVariables(byKind(copy))].filter((v) => !known.has(v) && !PLANNED_SCALE_OUT_VARIABLES.includes(v));
    assert.deepEqual(unknown, ['STEADYTUNE_PROT']);
  });
});
