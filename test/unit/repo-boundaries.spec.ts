// The layering rules in .dependency-cruiser.cjs, shown to bite: a tiny tree with the
// repository's paths and one deliberate violation per rule is cruised with the project's own
// config, and each violation must come back under the right rule name; then the real repository
// must have none. A developer checks the repository with `npm run check:boundaries`
// (`npx depcruise server client test bench scripts deploy`).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseOptions, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CRUISED_FOLDERS = ['server', 'client', 'test', 'bench', 'scripts', 'deploy'];

/** Each file of the tiny tree with its source; comments name the rule a file breaks. */
const TINY_TREE: Readonly<Record<string, string>> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
  'server/engine/index.ts': "export { train } from './trainer.js';\nexport * from './tf-free.js';\n",
  'server/engine/trainer.ts': 'export const train = (): number => 1;\n',
  'server/engine/types.ts': 'export interface Evaluation { readonly accuracy: number }\n',
  // tf-free-door-stays-tf-free: a value re-export of a module that loads TF.js.
  'server/engine/tf-free.ts': "export type * from './types.js';\nexport { train } from './trainer.js';\n",
  // tf-free-modules-without-tfjs
  'server/engine/classification-metrics.ts': "import * as tf from '@tensorflow/tfjs';\nexport const backend = tf.getBackend;\n",
  // engine-imports-only-engine, and engine-is-pure twice (a core I/O module, a service package).
  'server/engine/leaky.ts': [
    "import { readFileSync } from 'node:fs';",
    "import * as grpc from '@grpc/grpc-js';",
    "import { readRows } from '../data/reader.js';",
    'export const leak = [readFileSync, grpc, readRows];',
  ].join('\n'),
  // engine-through-front-door: the deep import of the issue.
  'server/rpc/handler.ts': "import { train } from '../engine/trainer.js';\nexport const handle = (): number => train();\n",
  // server-uses-only-generated-client (the first import), allowed (the second).
  'server/rpc/sdk-user.ts':
    "import { connect } from '../../client/sdk.js';\nimport type { Request } from '../../client/gen/service.js';\n" +
    'export const use = (request: Request): unknown => connect(request);\n',
  // main-thread-without-tfjs: main-thread jobs code importing the door that loads TF.js...
  'server/jobs/job-service.ts': "import { train } from '../engine/index.js';\nexport const start = (): number => train();\n",
  // ...which worker-thread code may.
  'server/jobs/worker/tasks.ts': "import { train } from '../../engine/index.js';\nexport const run = (): number => train();\n",
  // jobs-without-observability
  'server/jobs/job-execution.ts': "import { span } from '../observability/tracing.js';\nexport const execute = span;\n",
  'server/observability/tracing.ts': 'export const span = (): void => undefined;\n',
  // data-below-jobs
  'server/data/reader.ts': "import { start } from '../jobs/job-service.js';\nexport const readRows = start;\n",
  // common-imports-only-common
  'server/common/errors.ts': "import { readRows } from '../data/reader.js';\nexport const errors = readRows;\n",
  // no-circular, through a type-only import on one side.
  'server/data/rows.ts': "import type { Labels } from './labels.js';\nexport interface Rows { readonly labels: Labels }\n",
  'server/data/labels.ts': "import type { Rows } from './rows.js';\nexport interface Labels { readonly rows: Rows }\n",
  // client-imports-only-client
  'client/sdk.ts':
    "import type { Evaluation } from '../server/engine/tf-free.js';\n" +
    'export const connect = (request: unknown): Evaluation | unknown => request;\n',
  'client/gen/service.ts': 'export interface Request { readonly id: string }\n',
  // client-uses-only-its-dependencies: the package's manifest lists grpc-js, not pngjs.
  'client/package.json': JSON.stringify({ name: '@steadytune/client', type: 'module', dependencies: { '@grpc/grpc-js': '*' } }),
  'client/images.ts':
    "import { credentials } from '@grpc/grpc-js';\nimport { PNG } from 'pngjs';\nexport const used = [credentials, PNG];\n",
};

/** [rule, from, to] of every violation the tiny tree must produce, and of nothing else. */
const EXPECTED: ReadonlyArray<readonly [string, string, string]> = [
  ['tf-free-door-stays-tf-free', 'server/engine/tf-free.ts', 'server/engine/trainer.ts'],
  ['tf-free-modules-without-tfjs', 'server/engine/classification-metrics.ts', '@tensorflow/tfjs'],
  ['engine-is-pure', 'server/engine/leaky.ts', 'fs'],
  ['engine-is-pure', 'server/engine/leaky.ts', '@grpc/grpc-js'],
  ['engine-imports-only-engine', 'server/engine/leaky.ts', 'server/data/reader.ts'],
  ['engine-through-front-door', 'server/rpc/handler.ts', 'server/engine/trainer.ts'],
  ['server-uses-only-generated-client', 'server/rpc/sdk-user.ts', 'client/sdk.ts'],
  ['main-thread-without-tfjs', 'server/jobs/job-service.ts', 'server/engine/index.ts'],
  ['jobs-without-observability', 'server/jobs/job-execution.ts', 'server/observability/tracing.ts'],
  ['data-below-jobs', 'server/data/reader.ts', 'server/jobs/job-service.ts'],
  ['common-imports-only-common', 'server/common/errors.ts', 'server/data/reader.ts'],
  // A cycle is reported once, from whichever of its files the cruise met first.
  ['no-circular', 'server/data/labels.ts', 'server/data/rows.ts'],
  ['client-imports-only-client', 'client/sdk.ts', 'server/engine/tf-free.ts'],
  ['client-uses-only-its-dependencies', 'client/images.ts', 'pngjs'],
];

/** Cruises `folders` under `baseDir` with the project's rules and its TypeScript settings. */
async function cruiseWithProjectRules(baseDir: string, folders: readonly string[]): Promise<ICruiseResult> {
  const projectOptions = await extractDepcruiseOptions(path.join(REPO_ROOT, '.dependency-cruiser.cjs'));
  const options: ICruiseOptions = { ...projectOptions, baseDir, tsConfig: { fileName: path.join(baseDir, 'tsconfig.json') } };
  const { output } = await cruise([...folders], options, {}, { tsConfig: extractTSConfig(path.join(baseDir, 'tsconfig.json')) });
  assert.ok(typeof output !== 'string', 'a cruise result, not a report');
  return output;
}

/** A package target by its name (node_modules/@grpc/grpc-js/build/... -> @grpc/grpc-js), a file by its path. */
function targetName(violation: IViolation): string {
  const inPackage = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(violation.to);
  return inPackage === null ? violation.to : inPackage[1];
}

/** "rule from to", a cycle's two ends in name order (it has no first file). */
function arrowOf(rule: string, from: string, to: string): string {
  return rule === 'no-circular' ? [rule, ...[from, to].sort()].join(' ') : [rule, from, to].join(' ');
}

const arrowOfViolation = (v: IViolation): string => arrowOf(v.rule.name, v.from, targetName(v));

const described = (violations: readonly IViolation[]): string =>
  violations.map((v) => `${v.rule.severity} ${v.rule.name}: ${v.from} -> ${v.to}`).join('\n');

describe('repository boundaries (.dependency-cruiser.cjs)', () => {
  let tinyTree = '';
  let violations: readonly IViolation[] = [];

  before(async () => {
    tinyTree = mkdtempSync(path.join(tmpdir(), 'steadytune-boundaries-'));
    for (const [file, source] of Object.entries(TINY_TREE)) {
      mkdirSync(path.dirname(path.join(tinyTree, file)), { recursive: true });
      writeFileSync(path.join(tinyTree, file), source);
    }
    // The packages resolve, as in the repository, so package rules see node_modules paths.
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(tinyTree, 'node_modules'), 'dir');
    violations = (await cruiseWithProjectRules(tinyTree, ['server', 'client'])).summary.violations;
  });
  after(() => rmSync(tinyTree, { recursive: true, force: true }));

  for (const [rule, from, to] of EXPECTED) {
    test(`${rule} rejects ${from} -> ${to}`, () => {
      const found = violations.some((v) => arrowOfViolation(v) === arrowOf(rule, from, to));
      assert.ok(found, `expected ${rule}: ${from} -> ${to}; got\n${described(violations)}`);
    });
  }

  test('the tiny tree breaks no rule but the deliberate ones (worker code may use index.ts, the server client/gen)', () => {
    const expected = new Set(EXPECTED.map(([rule, from, to]) => arrowOf(rule, from, to)));
    const unexpected = violations.filter((v) => !expected.has(arrowOfViolation(v)));
    assert.deepEqual(unexpected, [], described(unexpected));
  });

  test('the repository itself breaks no rule', async () => {
    const { summary } = await cruiseWithProjectRules(REPO_ROOT, CRUISED_FOLDERS);
    const errors = summary.violations.filter((v) => v.rule.severity === 'error');
    assert.deepEqual(errors, [], described(errors));
    assert.ok(summary.totalCruised > 300, `cruised only ${summary.totalCruised} modules: the cruise missed the tree`);
  });
});
