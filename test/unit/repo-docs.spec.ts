// The repository's documentation references hold on a clean clone: nothing points at notes
// outside the repository, relative Markdown links resolve, and every docs/ file named exists.
// Each check also runs on a planted violation, so a check that stopped finding anything fails.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import {
  bareDocNames,
  brokenMarkdownLinks,
  describeViolations,
  FORBIDDEN_REFERENCES,
  markdownLinks,
  missingDocs,
  outsideReferences,
  trackedFiles,
  type RepoFile,
} from '../fixtures/repo-docs-checks.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function inGitWorkTree(): boolean {
  try {
    execFileSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: ROOT, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// Planted names are assembled at run time: written out, they would be violations in this file.
const docsPath = (name: string): string => ['docs', `${name}.md`].join('/');

describe('documentation references in the repository', { skip: inGitWorkTree() ? false : 'not a git work tree' }, () => {
  const files = inGitWorkTree() ? trackedFiles(ROOT) : [];
  const tracked = new Set(
    inGitWorkTree()
      ? execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
          .split('\0')
          .filter(Boolean)
      : [],
  );

  test('the docs exist and are tracked', () => {
    for (const name of ['ARCHITECTURE', 'DSGD', 'ENGINE', 'CONTRIBUTING']) assert.ok(tracked.has(docsPath(name)), docsPath(name));
    assert.ok(files.length > 100, `only ${files.length} tracked text files found`);
  });

  test('no tracked file references notes outside the repository', () => {
    const violations = outsideReferences(files);
    assert.deepEqual(violations, [], describeViolations(violations));
  });

  test('every relative Markdown link in a tracked .md file reaches a tracked file', () => {
    const violations = brokenMarkdownLinks(files, tracked);
    assert.deepEqual(violations, [], describeViolations(violations));
  });

  test('every docs/*.md named in a tracked file exists', () => {
    const violations = missingDocs(files, tracked);
    assert.deepEqual(violations, [], describeViolations(violations));
  });

  test('outside docs/, design docs are named with their folder', () => {
    const violations = bareDocNames(files);
    assert.deepEqual(violations, [], describeViolations(violations));
  });
});

describe('each check finds a planted violation', () => {
  const tracked = new Set(['README.md', docsPath('DSGD'), 'bench/README.md', 'deploy/k8s/pvc.yaml']);

  test('a reference to notes outside the repository, by each forbidden name', () => {
    for (const forbidden of FORBIDDEN_REFERENCES) {
      const planted: RepoFile = { path: 'server/engine/loss.ts', text: `// fine\n// see ${forbidden} for why\n` };
      assert.deepEqual(
        outsideReferences([planted]).map((v) => [v.file, v.line]),
        [['server/engine/loss.ts', 2]],
        forbidden,
      );
    }
  });

  test('broken relative links, while links that resolve, external links and code are accepted', () => {
    const text = [
      '[ok](docs/DSGD.md#the-update) [ok](bench/README.md) [ok](deploy/k8s/) [web](https://example.org/x.md) [anchor](#top)',
      '`[in code](nowhere.md)`',
      '```',
      '[in a fence](nowhere.md)',
      '```',
      `[missing](${docsPath('NOPE')}) ![image](figure.svg)`,
      '[ref]: ../outside.md',
    ].join('\n');
    const violations = brokenMarkdownLinks([{ path: 'README.md', text }], tracked);
    assert.deepEqual(
      violations.map((v) => [v.line, v.problem.split("'")[1]]),
      [
        [6, docsPath('NOPE')],
        [6, 'figure.svg'],
        [7, '../outside.md'],
      ],
    );
    // From a nested file, '../' climbs to the root.
    assert.deepEqual(brokenMarkdownLinks([{ path: 'bench/README.md', text: '[up](../docs/DSGD.md)' }], tracked), []);
  });

  test('a named docs file that does not exist', () => {
    const planted: RepoFile = {
      path: 'server/engine/scaler.ts',
      text: `// ${docsPath('DSGD')} exists\n// ${docsPath('MISSING')} does not\n`,
    };
    assert.deepEqual(
      missingDocs([planted], tracked).map((v) => [v.line, v.problem]),
      [[2, `names ${docsPath('MISSING')}, which is not a tracked file`]],
    );
  });

  test('a design doc named without its folder outside docs/', () => {
    const bare = ['DSGD', 'md'].join('.');
    const planted: RepoFile = { path: 'server/engine/dsgd.ts', text: `// (${bare}, edge cases)\n// ${docsPath('DSGD')} is fine\n` };
    assert.deepEqual(
      bareDocNames([planted]).map((v) => v.line),
      [1],
    );
    assert.deepEqual(bareDocNames([{ ...planted, path: docsPath('ENGINE') }]), []);
  });

  test('markdownLinks reads inline links, images and reference definitions', () => {
    assert.deepEqual(markdownLinks('a [x](one.md "title") ![y](two.svg)\n[z]: three.md'), [
      { target: 'one.md', line: 1 },
      { target: 'two.svg', line: 1 },
      { target: 'three.md', line: 2 },
    ]);
  });
});
