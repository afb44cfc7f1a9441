import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status, type ServerErrorResponse } from '@grpc/grpc-js';
import { BadRequest, RetryInfo } from '../../client/gen/google/rpc/error_details.js';
import { Status } from '../../client/gen/google/rpc/status.js';
import { ERROR_CODES, ServiceError, type ErrorCode } from '../../server/common/errors.js';
import { datasetNotFound, ViolationCollector } from '../../server/data/errors.js';
import { createLogger } from '../../server/logger.js';
import { GRPC_STATUS_OF, STATUS_DETAILS_KEY, toGrpcError, unavailable } from '../../server/rpc/errors.js';

function richStatus(error: ServerErrorResponse): Status {
  const trailer = error.metadata?.get(STATUS_DETAILS_KEY)[0];
  assert.ok(trailer instanceof Buffer, 'grpc-status-details-bin is set');
  return Status.decode(trailer);
}

const lines: string[] = [];
const logger = createLogger({ level: 'debug', write: (line) => void lines.push(line) });

describe('domain errors → gRPC status', () => {
  it('maps each error code to its gRPC code and mirrors code and message in google.rpc.Status', () => {
    const cases: [ServiceError, status][] = [
      [new ServiceError('NOT_FOUND', 'job x not found'), status.NOT_FOUND],
      [new ServiceError('ALREADY_EXISTS', 'key reused'), status.ALREADY_EXISTS],
      [new ServiceError('FAILED_PRECONDITION', 'job is SUCCEEDED'), status.FAILED_PRECONDITION],
      [ServiceError.invalidArgument('bad', [{ field: 'spec.epochs', description: 'too many' }]), status.INVALID_ARGUMENT],
      [new ServiceError('RESOURCE_EXHAUSTED', 'queue full'), status.RESOURCE_EXHAUSTED],
      [new ServiceError('UNAVAILABLE', 'draining'), status.UNAVAILABLE],
      [new ServiceError('CANCELLED', 'cancelled before it started'), status.CANCELLED],
    ];
    for (const [error, code] of cases) {
      const mapped = toGrpcError(error, logger);
      assert.equal(mapped.code, code);
      assert.equal(mapped.details, error.message);
      const rich = richStatus(mapped);
      assert.equal(rich.code, code);
      assert.equal(rich.message, error.message);
    }
  });

  it('packs field violations as google.rpc.BadRequest', () => {
    const mapped = toGrpcError(ServiceError.invalidArgument('bad', [{ field: 'spec.seeds[2]', description: 'duplicate' }]), logger);
    const [detail] = richStatus(mapped).details;
    assert.equal(detail?.typeUrl, 'type.googleapis.com/google.rpc.BadRequest');
    assert.deepEqual(BadRequest.decode(detail?.value ?? Buffer.alloc(0)).fieldViolations, [
      { field: 'spec.seeds[2]', description: 'duplicate' },
    ]);
  });

  it('adds RetryInfo to RESOURCE_EXHAUSTED', () => {
    const mapped = toGrpcError(new ServiceError('RESOURCE_EXHAUSTED', 'queue full', { retryAfterMs: 2500 }), logger);
    assert.equal(mapped.code, status.RESOURCE_EXHAUSTED);
    const [detail] = richStatus(mapped).details;
    assert.equal(detail?.typeUrl, 'type.googleapis.com/google.rpc.RetryInfo');
    assert.deepEqual(RetryInfo.decode(detail?.value ?? Buffer.alloc(0)).retryDelay, { seconds: 2, nanos: 500_000_000 });
  });

  it('maps the data layer errors by their codes', () => {
    const collector = new ViolationCollector();
    collector.add('rows[3].label', 'missing');
    const invalid = toGrpcError(
      caught(() => collector.throwIfAny('bad rows')),
      logger,
    );
    assert.equal(invalid.code, status.INVALID_ARGUMENT);
    assert.equal(BadRequest.decode(richStatus(invalid).details[0]?.value ?? Buffer.alloc(0)).fieldViolations[0]?.field, 'rows[3].label');
    assert.equal(toGrpcError(datasetNotFound('ds_1'), logger).code, status.NOT_FOUND);
  });

  it('keeps message and details small whatever the request quoted (they travel in trailers)', () => {
    const huge = 'k'.repeat(200_000);
    const violations = Array.from({ length: 50 }, (_, i) => ({ field: `labels["${huge}"]`, description: `${i} ${huge}` }));
    const mapped = toGrpcError(ServiceError.invalidArgument(`invalid: ${huge}`, violations), logger);
    assert.ok((mapped.details ?? '').length <= 512);
    const trailer = mapped.metadata?.get(STATUS_DETAILS_KEY)[0];
    assert.ok(trailer instanceof Buffer && trailer.length < 4096, `details trailer ${String(trailer?.length)} bytes`);
    const listed = BadRequest.decode(richStatus(mapped).details[0]?.value ?? Buffer.alloc(0)).fieldViolations;
    assert.ok(listed.length >= 1 && listed.every((v) => v.field.length <= 160 && v.description.length <= 240));
  });

  it('hides unknown errors behind INTERNAL and logs them with a reference', () => {
    lines.length = 0;
    const mapped = toGrpcError(new Error('secret path /etc/x'), logger);
    assert.equal(mapped.code, status.INTERNAL);
    assert.doesNotMatch(mapped.details ?? '', /secret/);
    const reference = /reference ([0-9a-f-]+)/.exec(mapped.details ?? '')?.[1];
    assert.ok(reference);
    const logged = JSON.parse(lines[0] ?? '{}') as { level: string; reference: string; error: { message: string } };
    assert.equal(logged.level, 'error');
    assert.equal(logged.reference, reference);
    assert.equal(logged.error.message, 'secret path /etc/x');
  });

  it('hides INTERNAL service errors (a worker crash) like unknown ones', () => {
    lines.length = 0;
    const crash = new ServiceError('INTERNAL', 'worker failed: /home/x/secret.bin', { cause: new RangeError('oom') });
    const mapped = toGrpcError(crash, logger);
    assert.equal(mapped.code, status.INTERNAL);
    assert.doesNotMatch(mapped.details ?? '', /secret/);
    assert.equal(lines.length, 1);
  });

  it('has one gRPC code per error code, and UNAVAILABLE carries no RetryInfo unless asked', () => {
    const expected: Record<ErrorCode, status> = {
      INVALID_ARGUMENT: status.INVALID_ARGUMENT,
      NOT_FOUND: status.NOT_FOUND,
      ALREADY_EXISTS: status.ALREADY_EXISTS,
      FAILED_PRECONDITION: status.FAILED_PRECONDITION,
      ABORTED: status.ABORTED,
      RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
      UNAVAILABLE: status.UNAVAILABLE,
      CANCELLED: status.CANCELLED,
      INTERNAL: status.INTERNAL,
    };
    assert.deepEqual(Object.keys(GRPC_STATUS_OF).sort(), [...ERROR_CODES].sort());
    for (const code of ERROR_CODES) assert.equal(GRPC_STATUS_OF[code], expected[code], code);
    const draining = unavailable('draining');
    assert.equal(draining.code, status.UNAVAILABLE);
    assert.deepEqual(richStatus(draining).details, []);
  });
});

function caught(action: () => void): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  assert.fail('expected a throw');
}
