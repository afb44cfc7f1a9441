// Static checks of deploy/Dockerfile*: no Docker engine runs where the tests do, so the images
// are judged from their Dockerfiles (parsed by dockerfile-ast, linted by dockerfile-utils) and
// from what the server's sources load at run time.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { DockerfileParser, type Dockerfile, type ImageTemplate, type Instruction } from 'dockerfile-ast';
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';

/** Every optional lint raised to an error: the brief is zero problems of any kind. */
const STRICT_LINT: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

export interface ParsedDockerfile {
  readonly text: string;
  readonly dockerfile: Dockerfile;
  /** Stages in order; the last one is the image. */
  readonly stages: ImageTemplate[];
  /** Defaults of the ARGs declared before the first FROM (usable in FROM lines). */
  readonly globalArgs: ReadonlyMap<string, string>;
}

export function parseDockerfile(file: string): ParsedDockerfile {
  const text = readFileSync(file, 'utf8');
  const dockerfile = DockerfileParser.parse(text);
  const globalArgs = new Map<string, string>();
  for (const arg of dockerfile.getInitialARGs()) {
    const property = arg.getProperty();
    if (property !== null) globalArgs.set(property.getName(), property.getValue() ?? '');
  }
  const stages = dockerfile
    .getFROMs()
    .map((from) => dockerfile.getContainingImage(from.getRange().start))
    .filter((stage): stage is ImageTemplate => stage !== null);
  return { text, dockerfile, stages, globalArgs };
}

export function lintProblems(parsed: ParsedDockerfile): string[] {
  return validate(parsed.text, STRICT_LINT).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
}

/** `${NAME}` / `$NAME` replaced by the global ARG defaults, as BuildKit does in FROM lines. */
export function expandGlobalArgs(parsed: ParsedDockerfile, text: string): string {
  return text.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (whole, name: string) => parsed.globalArgs.get(name) ?? whole);
}

export interface BaseImage {
  readonly stage: string;
  /** The FROM argument with global ARGs expanded. */
  readonly reference: string;
  /** Another stage of this file rather than an image from a registry. */
  readonly isStage: boolean;
}

export function baseImages(parsed: ParsedDockerfile): BaseImage[] {
  const earlierStages = new Set<string>();
  return parsed.dockerfile.getFROMs().map((from) => {
    const reference = expandGlobalArgs(parsed, from.getImage() ?? '');
    const base = { stage: from.getBuildStage() ?? '(unnamed)', reference, isStage: earlierStages.has(reference) };
    earlierStages.add(from.getBuildStage() ?? '');
    return base;
  });
}

/** A registry image is pinned when it names a tag other than latest, or a digest. */
export function isPinned(reference: string): boolean {
  if (reference.includes('@sha256:')) return true;
  const colon = reference.lastIndexOf(':');
  const tag = colon > reference.lastIndexOf('/') ? reference.slice(colon + 1) : '';
  return tag !== '' && tag !== 'latest' && !tag.includes('$');
}

export const instructionsOf = (stage: ImageTemplate, keyword: string): Instruction[] =>
  stage.getInstructions().filter((instruction) => instruction.getKeyword() === keyword);

export const finalStage = (parsed: ParsedDockerfile): ImageTemplate => {
  const last = parsed.stages.at(-1);
  if (last === undefined) throw new Error('no FROM');
  return last;
};

/** `NAME=value` pairs of the stage's ENV instructions (the form these Dockerfiles use). */
export function envOf(stage: ImageTemplate): Map<string, string> {
  const env = new Map<string, string>();
  for (const instruction of stage.getENVs()) {
    for (const property of instruction.getProperties()) env.set(property.getName(), property.getValue() ?? '');
  }
  return env;
}

/** The user the stage's last USER instruction sets, or undefined (root) when there is none. */
export function finalUser(stage: ImageTemplate): string | undefined {
  return instructionsOf(stage, 'USER').at(-1)?.getArgumentsContent() ?? undefined;
}

export function isRootUser(user: string | undefined): boolean {
  const name = (user ?? 'root').split(':')[0];
  return name === 'root' || name === '0' || name === '';
}

/** Sources of the COPY instructions that read the build context (not --from another stage). */
export function contextCopySources(parsed: ParsedDockerfile): string[] {
  return parsed.stages.flatMap((stage) =>
    stage.getCOPYs()
      .filter((copy) => copy.getFromFlag() === null)
      .flatMap((copy) => {
        const args = copy.getArguments().map((a) => a.getValue()).filter((value) => !value.startsWith('--'));
        return args.slice(0, -1).map((source) => source.replace(/^\.\//, '').replace(/\/$/, ''));
      }),
  );
}

// --- .dockerignore -----------------------------------------------------------------------------

interface IgnoreRule {
  readonly negated: boolean;
  readonly pattern: RegExp;
}

/** Docker's .dockerignore: later rules win; a rule matching a parent folder matches its files. */
export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const glob = (negated ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
      const source = glob
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) => (part === '**/' || part === '**' ? '(?:.*/)?' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('');
      return { negated, pattern: new RegExp(`^${source}$`) };
    });
}

export function isIgnored(rules: readonly IgnoreRule[], file: string): boolean {
  const segments = file.split('/');
  const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (prefixes.some((prefix) => rule.pattern.test(prefix))) ignored = !rule.negated;
  }
  return ignored;
}

/** Repository files under `folder` (relative paths), skipping node_modules and dot folders. */
export function repositoryFiles(root: string, folder: string): string[] {
  const start = path.join(root, folder);
  if (!existsSync(start)) return [];
  return readdirSync(start, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .filter((file) => !file.split('/').some((segment) => segment === 'node_modules' || segment.startsWith('.')));
}

// --- what the server loads at run time -------------------------------------------------------

export interface ServerImports {
  /** Repository-relative paths outside server/ that server code imports or reads. */
  readonly outsideServer: string[];
  /** Packages the server imports by name (type-only imports excluded). */
  readonly packages: string[];
}

const RELATIVE_REFERENCE = /(?:\bfrom\s+|\bimport\s*\(\s*|\bnew URL\(\s*)'(\.{1,2}\/[^']*)'/g;
const PACKAGE_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?'([^'./][^']*)'|\bimport\(\s*'([^'./][^']*)'\s*\)/gm;

export function serverImports(root: string): ServerImports {
  const outside = new Set<string>();
  const packages = new Set<string>();
  for (const file of repositoryFiles(root, 'server').filter((f) => /\.(ts|mts|mjs)$/.test(f))) {
    const text = readFileSync(path.join(root, file), 'utf8');
    for (const match of text.matchAll(RELATIVE_REFERENCE)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), match[1]));
      if (!target.startsWith('server/')) outside.add(target);
    }
    for (const match of text.matchAll(PACKAGE_IMPORT)) {
      const specifier = match[1] ?? match[2];
      if (specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
      const parts = specifier.split('/');
      packages.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
    }
  }
  return { outsideServer: [...outside].sort(), packages: [...packages].sort() };
}
