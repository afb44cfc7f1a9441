// Shared helpers for the data-*.spec.ts tests: temp data roots and violation assertions.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { DatasetValidationError, type FieldViolation } from '../../server/data/index.js';

export interface TempRoot {
  readonly dir: string;
  write(name: string, content: string | Uint8Array): Promise<string>;
  remove(): Promise<void>;
}

export async function makeTempRoot(prefix = 'steadytune-data-'): Promise<TempRoot> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return {
    dir,
    async write(name, content) {
      await writeFile(path.join(dir, name), content);
      return name;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export function jsonl(records: readonly unknown[]): string {
  return records.map((record) => JSON.stringify(record)).join('\n') + '\n';
}

/** Awaits a rejection with DatasetValidationError that names `field` (and matches `description`). */
export async function expectViolation(
  action: Promise<unknown>, field: string, description?: RegExp,
): Promise<readonly FieldViolation[]> {
  let violations: readonly FieldViolation[] = [];
  await assert.rejects(action, (error: unknown) => {
    assert.ok(error instanceof DatasetValidationError, `expected DatasetValidationError, got ${String(error)}`);
    violations = error.violations;
    const match = error.violations.find((violation) =>
      violation.field === field && (description === undefined || description.test(violation.description)));
    assert.ok(match, `no violation on ${field}${description ? ` matching ${description}` : ''}; got ${JSON.stringify(error.violations)}`);
    return true;
  });
  return violations;
}
