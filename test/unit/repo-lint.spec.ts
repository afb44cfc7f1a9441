// The lint and format checks that `npm test` runs fail on a violation: the project's own Biome
// settings and the exact `npm run lint` / `npm run format:check` commands, run over a small tree
// in a temporary folder (a deliberate unused variable, a badly formatted line, a clean file).
// By hand: add `const unused = 1;` inside any function and run `npm run lint`; it exits 1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIOME = path.join(REPO_ROOT, 'node_modules', '.bin', 'biome');

const FILES: Readonly<Record<string, string>> = {
  'unused.ts': 'export function answer(): number {\n  const unused = 1;\n  return 42;\n}\n',
  'unformatted.ts': 'export const point = {x:1,y:2};\n',
  'clean.ts': 'export const point = { x: 1, y: 2 };\n',
};

/** The Biome arguments of a package.json script (`biome lint --error-on-warnings .` -> [lint, --error-on-warnings]). */
async function scriptArgs(name: string): Promise<string[]> {
  const scripts = (JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const words = (scripts[name] ?? assert.fail(`no ${name} script`)).split(/\s+/);
  assert.equal(words[0], 'biome', `${name} runs biome`);
  return words.slice(1).filter((word) => word !== '.');
}

describe('lint and format checks (biome.jsonc, npm run lint / format:check)', () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'steadytune-lint-'));
    // The project's settings, minus what ties them to the repository: the schema path and git's
    // ignore file (the temporary folder is not a git checkout).
    const config = (await readFile(path.join(REPO_ROOT, 'biome.jsonc'), 'utf8'))
      .replace(/"\$schema":[^\n]*\n/, '')
      .replace(/"vcs":\s*\{[^}]*\},?/, '"vcs": { "enabled": false },');
    await writeFile(path.join(dir, 'biome.jsonc'), config);
    for (const [name, text] of Object.entries(FILES)) await writeFile(path.join(dir, name), text);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (script: string, file: string) => {
    const result = spawnSync(BIOME, [...(await scriptArgs(script)), file], { cwd: dir, encoding: 'utf8' });
    assert.equal(result.error, undefined);
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  };

  it('lint rejects an unused variable (a warning in Biome, an error here) and passes a clean file', async () => {
    const unused = await run('lint', 'unused.ts');
    assert.equal(unused.status, 1, unused.output);
    assert.match(unused.output, /noUnusedVariables/);
    const clean = await run('lint', 'clean.ts');
    assert.equal(clean.status, 0, clean.output);
  });

  it('format:check rejects a file out of format and passes a formatted one', async () => {
    const unformatted = await run('format:check', 'unformatted.ts');
    assert.equal(unformatted.status, 1, unformatted.output);
    const clean = await run('format:check', 'clean.ts');
    assert.equal(clean.status, 0, clean.output);
  });
});
