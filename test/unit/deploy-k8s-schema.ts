// Loads deploy/k8s and checks each object against the Kubernetes OpenAPI schemas that
// kubernetes-models ships (compiled ajv validators), plus a strict unknown-field check.
// The library's validate() accepts unknown fields (the schemas do not close objects), while the
// API server drops them with only a warning: a misspelt `readinessProbe` or `runAsNonRot`
// would deploy and silently do nothing. So each validator also runs on a Proxy that records
// every property it reads; a key in the manifest that the schema never asked for is unknown.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';

export type KubeObject = Record<string, unknown>;

export interface Manifest {
  /** File name inside the manifest folder. */
  readonly file: string;
  /** Position of the document in a multi-document file. */
  readonly index: number;
  readonly object: KubeObject;
}

/** What a kubernetes-models class offers: a constructor and a validate() that throws. */
interface ModelClass {
  // `never`: the data's shape is exactly what validate() is about to check.
  new (data: never): { validate(): void };
  readonly prototype: { validate(): void };
}

/** Every kind the manifests may use, by `apiVersion/kind`. */
const MODELS: ReadonlyMap<string, ModelClass> = new Map<string, ModelClass>([
  ['v1/Namespace', Namespace],
  ['v1/ConfigMap', ConfigMap],
  ['v1/Secret', Secret],
  ['v1/PersistentVolumeClaim', PersistentVolumeClaim],
  ['v1/Service', Service],
  ['apps/v1/Deployment', Deployment],
  ['policy/v1/PodDisruptionBudget', PodDisruptionBudget],
  ['monitoring.coreos.com/v1/ServiceMonitor', ServiceMonitor],
]);

export const KUSTOMIZATION_FILE = 'kustomization.yaml';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const typeKey = (object: KubeObject): string => `${String(object.apiVersion)}/${String(object.kind)}`;

export function describe(manifest: Manifest): string {
  const metadata = isRecord(manifest.object.metadata) ? manifest.object.metadata : {};
  return `${manifest.file}#${manifest.index} ${String(manifest.object.kind)}/${String(metadata.name)}`;
}

/**
 * Every document of a YAML file, read as Kubernetes reads it: YAML 1.1 (kubectl's parser, where
 * `0440` is octal and `yes` a boolean), duplicate keys refused. Empty documents are skipped.
 */
export function parseManifestFile(folder: string, file: string): Manifest[] {
  const text = readFileSync(path.join(folder, file), 'utf8');
  const manifests: Manifest[] = [];
  parseAllDocuments(text, { version: '1.1', uniqueKeys: true }).forEach((document, index) => {
    if ('errors' in document && document.errors.length > 0) {
      throw new Error(`${file}: document ${index}: ${document.errors.map((error) => error.message).join('; ')}`);
    }
    const object: unknown = document.toJS();
    if (object === null || object === undefined) return;
    if (!isRecord(object)) throw new Error(`${file}: document ${index} is not a mapping`);
    manifests.push({ file, index, object });
  });
  return manifests;
}

/** The library's own check (`new Deployment(obj).validate()`); the error message, or none. */
export function schemaProblems(manifest: Manifest): string[] {
  const model = MODELS.get(typeKey(manifest.object));
  if (model === undefined) return [`${describe(manifest)}: no schema for ${typeKey(manifest.object)}; add its model to MODELS`];
  try {
    new model(manifest.object as never).validate();
    return [];
  } catch (error) {
    return [`${describe(manifest)}: ${error instanceof Error ? error.message : String(error)}`];
  }
}

/**
 * JSON paths of the fields the schema does not define. Objects whose validator reads no key at
 * all are free-form in the schema (x-kubernetes-preserve-unknown-fields) and are not judged.
 */
export function unknownFields(manifest: Manifest): string[] {
  const model = MODELS.get(typeKey(manifest.object));
  if (model === undefined) return [];
  const readKeys = new WeakMap<object, Set<PropertyKey>>();
  const proxies = new WeakMap<object, object>();
  const track = (target: object): object => {
    const existing = proxies.get(target);
    if (existing !== undefined) return existing;
    const read = new Set<PropertyKey>();
    readKeys.set(target, read);
    const proxy = new Proxy(target, {
      get(object, key, receiver) {
        read.add(key);
        const value: unknown = Reflect.get(object, key, receiver);
        return typeof value === 'object' && value !== null ? track(value) : value;
      },
      has(object, key) {
        read.add(key);
        return Reflect.has(object, key);
      },
    });
    proxies.set(target, proxy);
    return proxy;
  };
  try {
    model.prototype.validate.call(track(manifest.object));
  } catch {
    // Schema violations are schemaProblems' to report; the keys read so far still count.
  }

  const unknown: string[] = [];
  const walk = (value: unknown, where: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${where}[${i}]`));
      return;
    }
    if (!isRecord(value)) return;
    const read = readKeys.get(value);
    if (read === undefined || read.size === 0) return;
    for (const [key, child] of Object.entries(value)) {
      if (read.has(key)) walk(child, `${where}.${key}`);
      else unknown.push(`${describe(manifest)}: unknown field ${where}.${key}`);
    }
  };
  walk(manifest.object, '');
  return unknown;
}

/** Every object of the folder, from the files kustomization.yaml lists. */
export function loadKustomizedManifests(folder: string, resources: readonly string[]): Manifest[] {
  return resources.flatMap((file) => parseManifestFile(folder, file));
}
