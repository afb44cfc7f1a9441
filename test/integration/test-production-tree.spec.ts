// The production dependency tree, as the images build it (`npm ci --omit=dev`): installed
// offline from the npm cache into a temporary copy of what the images COPY, then every built-in
// dataset the server offers (and the GloVe vectors glove_bag reads) is loaded from that tree
// alone. A built-in whose package is a devDependency would pass every other test and fail here.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUILTIN_DATASET_NAMES, FASHION_MNIST_DIR } from '../../server/data/builtin.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What the images copy next to node_modules (deploy/Dockerfile*). */
const IMAGE_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'client/package.json', 'client/gen', 'proto', 'server'];

// Run inside the copy: loads each built-in's splits and the GloVe file, prints one JSON line.
const PROBE = `
import { BUILTIN_DATASET_NAMES, loadBuiltin } from './server/data/builtin.ts';
import { winkGlovePath } from './server/data/pretrained-files.ts';
const datasets = {};
for (const name of BUILTIN_DATASET_NAMES) {
  const train = await loadBuiltin(name, 'train');
  const validation = await loadBuiltin(name, 'validation');
  datasets[name] = { train: train.labels.length, validation: validation.labels.length, classes: train.numClasses };
}
console.log(JSON.stringify({ datasets, glove: winkGlovePath() }));
`;

interface ProbeResult {
  readonly datasets: Record<string, { train: number; validation: number; classes: number }>;
  readonly glove: string;
}

describe('the production dependency tree (npm ci --omit=dev)', () => {
  let tree: string;
  let skipReason: string | undefined;

  before(() => {
    tree = mkdtempSync(path.join(os.tmpdir(), 'steadytune-prod-tree-'));
    for (const file of IMAGE_FILES) {
      mkdirSync(path.dirname(path.join(tree, file)), { recursive: true });
      cpSync(path.join(ROOT, file), path.join(tree, file), { recursive: true });
    }
    // --offline: no network here; the packages come from the npm cache the dev install filled.
    const install = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], {
      cwd: tree,
      encoding: 'utf8',
    });
    if (install.status !== 0) {
      const output = `${install.stdout}${install.stderr}`;
      if (/ENOTCACHED/.test(output)) skipReason = 'the npm cache lacks packages of the lock file (offline install)';
      else assert.fail(`npm ci --omit=dev failed:\n${output}`);
    }
  });
  after(() => rmSync(tree, { recursive: true, force: true }));

  test('leaves the devDependencies out', (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    assert.ok(existsSync(path.join(tree, 'node_modules/tsx')), 'tsx (a runtime dependency) is installed');
    assert.ok(!existsSync(path.join(tree, 'node_modules/typescript')), 'typescript (dev) is not');
  });

  test('every built-in dataset and the GloVe vectors load from it', (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    // The image installs Debian's dataset-fashion-mnist; a machine without it cannot check that one.
    if (!existsSync(FASHION_MNIST_DIR)) return t.skip(`${FASHION_MNIST_DIR} is not installed here`);
    const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE], {
      cwd: tree,
      encoding: 'utf8',
      env: { ...process.env, NODE_ENV: 'production' },
    });
    const result = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as ProbeResult;
    assert.deepEqual(Object.keys(result.datasets).sort(), [...BUILTIN_DATASET_NAMES].sort());
    for (const [name, sizes] of Object.entries(result.datasets)) {
      assert.ok(sizes.train > 0 && sizes.validation > 0, `${name}: ${JSON.stringify(sizes)}`);
      assert.equal(sizes.classes, 10, name);
    }
    // Resolved inside the copy, not from the repository's own node_modules.
    assert.ok(result.glove.startsWith(path.join(tree, 'node_modules')), result.glove);
  });
});
