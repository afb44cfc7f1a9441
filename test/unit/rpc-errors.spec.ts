import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status, type ServerErrorResponse } from '@grpc/grpc-js';
import { BadRequest, RetryInfo } from '../../client/gen/google/rpc/error_details.js';
import { Status } from '../../client/gen/google/rpc/status.js';
import { DatasetNotFoundError, DatasetValidationError } from '../../server/data/errors.js';
import { JobError } from '../../server/jobs/types.js';
import { createLogger } from '../../server/logger.js';
import { STATUS_DETAILS_KEY, toServiceError } from '../../server/rpc/errors.js';

function richStatus(error: ServerErrorResponse): Status {
  const trailer = error.metadata?.get(STATUS_DETAILS_KEY)[0];
  assert.ok(trailer instanceof Buffer, 'grpc-status-details-bin is set');
  return Status.decode(trailer);
}

const lines: string[] = [];
const logger = createLogger({ level: 'debug', write: (line) => void lines.push(line) });

describe('domain errors → gRPC status', () => {
  it('maps each JobError kind to its code and mirrors code and message in google.rpc.Status', () => {
    const cases: [JobError, status][] = [
      [new JobError('not_found', 'job x not found'), status.NOT_FOUND],
      [new JobError('already_exists', 'key reused'), status.ALREADY_EXISTS],
      [new JobError('failed_precondition', 'job is SUCCEEDED'), status.FAILED_PRECONDITION],
      [new JobError('invalid_argument', 'bad', [{ field: 'spec.epochs', description: 'too many' }]), status.INVALID_ARGUMENT],
    ];
    for (const [error, code] of cases) {
      const mapped = toServiceError(error, logger);
      assert.equal(mapped.code, code);
      assert.equal(mapped.details, error.message);
      const rich = richStatus(mapped);
      assert.equal(rich.code, code);
      assert.equal(rich.message, error.message);
    }
  });

  it('packs field violations as google.rpc.BadRequest', () => {
    const mapped = toServiceError(new JobError('invalid_argument', 'bad', [{ field: 'spec.seeds[2]', description: 'duplicate' }]), logger);
    const [detail] = richStatus(mapped).details;
    assert.equal(detail?.typeUrl, 'type.googleapis.com/google.rpc.BadRequest');
    assert.deepEqual(BadRequest.decode(detail?.value ?? Buffer.alloc(0)).fieldViolations, [{ field: 'spec.seeds[2]', description: 'duplicate' }]);
  });

  it('adds RetryInfo to RESOURCE_EXHAUSTED', () => {
    const mapped = toServiceError(new JobError('resource_exhausted', 'queue full', [], 2500), logger);
    assert.equal(mapped.code, status.RESOURCE_EXHAUSTED);
    const [detail] = richStatus(mapped).details;
    assert.equal(detail?.typeUrl, 'type.googleapis.com/google.rpc.RetryInfo');
    assert.deepEqual(RetryInfo.decode(detail?.value ?? Buffer.alloc(0)).retryDelay, { seconds: 2, nanos: 500_000_000 });
  });

  it('maps the data layer errors by their codes', () => {
    const invalid = toServiceError(new DatasetValidationError('bad rows', [{ field: 'rows[3].label', description: 'missing' }]), logger);
    assert.equal(invalid.code, status.INVALID_ARGUMENT);
    assert.equal(BadRequest.decode(richStatus(invalid).details[0]?.value ?? Buffer.alloc(0)).fieldViolations[0]?.field, 'rows[3].label');
    assert.equal(toServiceError(new DatasetNotFoundError('ds_1'), logger).code, status.NOT_FOUND);
  });

  it('keeps message and details small whatever the request quoted (they travel in trailers)', () => {
    const huge = 'k'.repeat(200_000);
    const violations = Array.from({ length: 50 }, (_, i) => ({ field: `labels["${huge}"]`, description: `${i} ${huge}` }));
    const mapped = toServiceError(new JobError('invalid_argument', `invalid: ${huge}`, violations), logger);
    assert.ok((mapped.details ?? '').length <= 512);
    const trailer = mapped.metadata?.get(STATUS_DETAILS_KEY)[0];
    assert.ok(trailer instanceof Buffer && trailer.length < 4096, `details trailer ${String(trailer?.length)} bytes`);
    const listed = BadRequest.decode(richStatus(mapped).details[0]?.value ?? Buffer.alloc(0)).fieldViolations;
    assert.ok(listed.length >= 1 && listed.every((v) => v.field.length <= 160 && v.description.length <= 240));
  });

  it('hides unknown errors behind INTERNAL and logs them with a reference', () => {
    lines.length = 0;
    const mapped = toServiceError(new Error('secret path /etc/x'), logger);
    assert.equal(mapped.code, status.INTERNAL);
    assert.doesNotMatch(mapped.details ?? '', /secret/);
    const reference = /reference ([0-9a-f-]+)/.exec(mapped.details ?? '')?.[1];
    assert.ok(reference);
    const logged = JSON.parse(lines[0] ?? '{}') as { level: string; reference: string; error: { message: string } };
    assert.equal(logged.level, 'error');
    assert.equal(logged.reference, reference);
    assert.equal(logged.error.message, 'secret path /etc/x');
  });
});
