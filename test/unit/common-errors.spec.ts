// The common error crosses a real worker_threads boundary as its wire form and is rebuilt with
// its identity: class, code, message, violations, retry hint, stack and cause chain.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { hasCode, ServiceError, type ServiceErrorWire } from '../../server/common/errors.js';

interface Posted {
  readonly wire: ServiceErrorWire;
  readonly raw: unknown;
}

describe('ServiceError across a worker thread', () => {
  let worker: Worker;
  before(() => {
    // The pool's bootstrap: registers tsx in the thread, then imports the TypeScript entry.
    worker = new Worker(new URL('../../server/jobs/worker-bootstrap.mjs', import.meta.url), {
      workerData: { entry: new URL('../fixtures/errors-fixture-worker.ts', import.meta.url).href },
    });
  });
  after(() => worker.terminate());

  const ask = (which: 'service' | 'plain'): Promise<Posted> =>
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.postMessage(which);
    });

  it('is rebuilt as the same class with code, violations, retryAfterMs, stack and cause', async () => {
    const { wire, raw } = await ask('service');
    // Why the wire form exists: a structured clone keeps neither the class nor its fields.
    assert.ok(!(raw instanceof ServiceError));
    const error = ServiceError.fromWire(wire);
    assert.ok(error instanceof ServiceError);
    assert.equal(error.code, 'RESOURCE_EXHAUSTED');
    assert.equal(error.message, 'too many jobs for tenant acme');
    assert.deepEqual(error.violations, [{ field: 'spec.seeds', description: 'at most 8 seeds' }]);
    assert.equal(error.retryAfterMs, 2500);
    // The stack is the worker's: it names the function that threw there.
    assert.match(error.stack ?? '', /throwChained/);
    const cause = error.cause;
    assert.ok(hasCode(cause, 'NOT_FOUND'), String(cause));
    assert.equal(cause.message, 'dataset "ds_1" is not registered');
    assert.equal(cause.retryAfterMs, undefined);
    assert.ok(cause.cause instanceof TypeError);
    assert.equal(cause.cause.message, 'registry row was undefined');
  });

  it('turns any other error into INTERNAL with the same message and the original as cause', async () => {
    const error = ServiceError.fromWire((await ask('plain')).wire);
    assert.ok(hasCode(error, 'INTERNAL'));
    assert.equal(error.message, 'Array buffer allocation failed');
    assert.deepEqual(error.violations, []);
    assert.ok(error.cause instanceof RangeError);
    assert.match(error.cause.stack ?? '', /throwPlain/);
  });
});

describe('ServiceError wire form', () => {
  it('keeps a non-Error cause as text and bounds a long cause chain', () => {
    const withText = ServiceError.fromWire(new ServiceError('CANCELLED', 'stopped', { cause: 'shutdown' }).toWire());
    assert.ok(withText.cause instanceof Error);
    assert.equal(withText.cause.message, 'shutdown');
    let chain: Error = new Error('root');
    for (let i = 0; i < 10; i += 1) chain = new ServiceError('INTERNAL', `level ${i}`, { cause: chain });
    let depth = 0;
    for (let e: unknown = ServiceError.fromWire(ServiceError.wrap(chain).toWire()); e instanceof Error; e = e.cause) depth += 1;
    assert.equal(depth, 5);
  });

  it('is plain data: it survives JSON as well as structured clone', () => {
    const original = ServiceError.invalidArgument('bad spec', [{ field: 'spec.epochs', description: 'must be >= 1' }]);
    const rebuilt = ServiceError.fromWire(JSON.parse(JSON.stringify(original.toWire())) as ServiceErrorWire);
    assert.ok(hasCode(rebuilt, 'INVALID_ARGUMENT'));
    assert.deepEqual(rebuilt.violations, original.violations);
    assert.equal(rebuilt.stack, original.stack);
  });
});
