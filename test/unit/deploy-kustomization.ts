// kustomization.yaml has no schema in kubernetes-models, so it gets a documented minimal check:
// only fields kustomize v5 defines, exactly the folder's manifest files as resources, and images
// that are pinned and that the Deployments actually use.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { isRecord } from './deploy-k8s-schema.js';

/** The top-level fields of kustomize's Kustomization (v5); anything else is a typo. */
const KUSTOMIZATION_FIELDS = new Set([
  'apiVersion', 'kind', 'metadata', 'namespace', 'namePrefix', 'nameSuffix', 'resources', 'components',
  'images', 'replicas', 'labels', 'commonAnnotations', 'patches', 'configMapGenerator',
  'secretGenerator', 'generatorOptions', 'buildMetadata', 'openapi', 'crds', 'helmCharts',
  'sortOptions', 'configurations', 'generators', 'transformers', 'validators', 'replacements',
]);
/** Fields kustomize still reads but deprecates; `commonLabels` also rewrites immutable selectors. */
const DEPRECATED_FIELDS = new Set(['commonLabels', 'bases', 'patchesStrategicMerge', 'patchesJson6902', 'vars', 'imageTags']);
const IMAGE_FIELDS = new Set(['name', 'newName', 'newTag', 'digest']);

export interface KustomizationImage {
  readonly name: string;
  readonly newName?: string;
  readonly newTag?: string;
  readonly digest?: string;
}

export function kustomizationImages(kustomization: Record<string, unknown>): KustomizationImage[] {
  const images = kustomization.images;
  if (!Array.isArray(images)) return [];
  return images.filter(isRecord).map((image) => ({
    name: String(image.name),
    ...(typeof image.newName === 'string' ? { newName: image.newName } : {}),
    ...(image.newTag !== undefined ? { newTag: String(image.newTag) } : {}),
    ...(typeof image.digest === 'string' ? { digest: image.digest } : {}),
  }));
}

/** `manifestFiles`: the folder's *.yaml files other than kustomization.yaml. */
export function checkKustomization(kustomization: Record<string, unknown>, manifestFiles: readonly string[]): string[] {
  const problems: string[] = [];
  if (kustomization.apiVersion !== 'kustomize.config.k8s.io/v1beta1') problems.push(`apiVersion ${String(kustomization.apiVersion)}`);
  if (kustomization.kind !== 'Kustomization') problems.push(`kind ${String(kustomization.kind)}`);
  for (const key of Object.keys(kustomization)) {
    if (DEPRECATED_FIELDS.has(key)) problems.push(`deprecated field ${key}`);
    else if (!KUSTOMIZATION_FIELDS.has(key)) problems.push(`unknown field ${key}`);
  }
  const resources = Array.isArray(kustomization.resources) ? kustomization.resources.map(String) : [];
  const listed = new Set(resources);
  if (listed.size !== resources.length) problems.push('resources lists a file twice');
  for (const file of manifestFiles) if (!listed.has(file)) problems.push(`resources misses ${file}`);
  for (const file of listed) if (!manifestFiles.includes(file)) problems.push(`resources lists ${file}, which is not in the folder`);
  const images = Array.isArray(kustomization.images) ? kustomization.images : [];
  images.forEach((image: unknown, i) => {
    if (!isRecord(image)) problems.push(`images[${i}] is not a mapping`);
    else for (const key of Object.keys(image)) if (!IMAGE_FIELDS.has(key)) problems.push(`images[${i}]: unknown field ${key}`);
  });
  return problems;
}

/** Image references split as Docker does: the last ':' after the last '/' starts the tag. */
export function splitImage(reference: string): { name: string; tag?: string; digest?: string } {
  const [withoutDigest, digest] = reference.split('@', 2);
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > withoutDigest.lastIndexOf('/');
  return {
    name: hasTag ? withoutDigest.slice(0, colon) : withoutDigest,
    ...(hasTag ? { tag: withoutDigest.slice(colon + 1) } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

const pinned = (tag: string | undefined, digest: string | undefined): boolean =>
  digest !== undefined || (tag !== undefined && tag !== '' && tag !== 'latest');

/** Every container image is pinned and rewritten by `images:`; every `images:` entry is used. */
export function checkImages(kustomization: Record<string, unknown>, deployments: readonly IDeployment[]): string[] {
  const problems: string[] = [];
  const images = kustomizationImages(kustomization);
  const used = new Set<string>();
  for (const deployment of deployments) {
    for (const container of deployment.spec?.template.spec?.containers ?? []) {
      const { name, tag, digest } = splitImage(container.image ?? '');
      used.add(name);
      const where = `Deployment ${deployment.metadata?.name ?? ''} container ${container.name}`;
      if (!pinned(tag, digest)) problems.push(`${where}: image ${String(container.image)} is not pinned to a tag or digest`);
      if (!images.some((image) => image.name === name)) problems.push(`${where}: image ${name} is not in kustomization images (no way to point it at a registry)`);
    }
  }
  for (const image of images) {
    if (!used.has(image.name)) problems.push(`kustomization images: ${image.name} is used by no container`);
    if (!pinned(image.newTag, image.digest)) problems.push(`kustomization images: ${image.name} has no pinned newTag or digest`);
  }
  return problems;
}
