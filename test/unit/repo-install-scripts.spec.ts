// npm runs a dependency's install script only if package.json's allowScripts says so (npm 11
// warns about each unreviewed one at `npm ci`; npm 12 blocks them). Every package in the
// lockfile that has an install script must have a decision, and no decision may outlive its
// package. Why each is allowed or denied: docs/CONTRIBUTING.md, "Install scripts".
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

interface LockfileEntry {
  hasInstallScript?: boolean;
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));
}

const manifest = readJson('package.json') as { allowScripts?: Record<string, boolean> };
const lockfile = readJson('package-lock.json') as { packages: Record<string, LockfileEntry> };

/** `node_modules/a/node_modules/@s/b` → `@s/b`. */
function packageName(lockPath: string): string {
  return lockPath.slice(lockPath.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

const withInstallScripts = new Set(
  Object.entries(lockfile.packages)
    .filter(([lockPath, entry]) => lockPath !== '' && entry.hasInstallScript === true)
    .map(([lockPath]) => packageName(lockPath)),
);

describe('install scripts', () => {
  it('every dependency with an install script is allowed or denied in allowScripts', () => {
    const decided = new Set(Object.keys(manifest.allowScripts ?? {}));
    const pending = [...withInstallScripts].filter((name) => !decided.has(name));
    assert.deepEqual(pending, [], 'add them to allowScripts in package.json and say why in docs/CONTRIBUTING.md');
  });

  it('allowScripts names only packages that have install scripts', () => {
    const stale = Object.keys(manifest.allowScripts ?? {}).filter((name) => !withInstallScripts.has(name));
    assert.deepEqual(stale, []);
  });
});
