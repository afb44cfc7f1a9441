// Server reflection (grpc.reflection.v1 and v1alpha), what grpcurl, grpcui and Postman use:
// list the services, and fetch the real .proto files (names, imports, snake_case fields, map
// entries) that define a symbol, together with their dependencies, so a descriptor pool built
// from them accepts them. A Python reflection-only client proves that end to end.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { TrainerService } from '../../client/gen/steadytune/v1/trainer.js';
import {
  REFLECTION_PROTO_ROOT,
  reflectionClient,
  type ReflectionClient,
  type ReflectionRequest,
  type ReflectionResponse,
} from '../fixtures/grpc-clients.js';
import { missingPythonTooling, PYTHON_REQUIRED, runPythonScript } from '../fixtures/python-tooling.js';
import { startTestServer, type TestServer } from '../fixtures/server-harness.js';

function ask(client: ReflectionClient, request: ReflectionRequest): Promise<ReflectionResponse> {
  return new Promise((resolve, reject) => {
    const call = client.serverReflectionInfo();
    call.once('data', (response: ReflectionResponse) => {
      resolve(response);
      call.end();
    });
    call.once('error', reject);
    call.write(request);
  });
}

async function filesFor(client: ReflectionClient, request: ReflectionRequest): Promise<FileDescriptorProto[]> {
  const response = await ask(client, request);
  assert.equal(response.errorResponse, undefined, JSON.stringify(response.errorResponse));
  return (response.fileDescriptorResponse?.fileDescriptorProto ?? []).map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

function named(files: readonly FileDescriptorProto[], name: string): FileDescriptorProto {
  const file = files.find((f) => f.name === name);
  assert.ok(file, `${name} in ${files.map((f) => f.name).join(', ')}`);
  return file;
}

const missingPython = missingPythonTooling();

describe('server reflection', () => {
  let server: TestServer;
  let client: ReflectionClient;

  before(async () => {
    server = await startTestServer({ concurrency: 1 });
    client = reflectionClient(server.address);
  });
  after(async () => {
    client.close();
    await server.stop();
  });

  it('lists the Trainer and health services', async () => {
    const response = await ask(client, { listServices: '' });
    const names = response.listServicesResponse?.service.map((s) => s.name) ?? [];
    assert.ok(names.includes('steadytune.v1.Trainer'), names.join(', '));
    assert.ok(names.includes('grpc.health.v1.Health'), names.join(', '));
  });

  it('answers the older v1alpha protocol too', async () => {
    const alpha = reflectionClient(server.address, 'v1alpha');
    try {
      const response = await ask(alpha, { listServices: '*' });
      assert.ok(response.listServicesResponse?.service.some((s) => s.name === 'steadytune.v1.Trainer'));
      const files = await filesFor(alpha, { fileContainingSymbol: 'steadytune.v1.Trainer' });
      assert.equal(files[0]?.name, 'steadytune/v1/trainer.proto');
    } finally {
      alpha.close();
    }
  });

  it('returns trainer.proto for steadytune.v1.Trainer, with the files it imports', async () => {
    const files = await filesFor(client, { fileContainingSymbol: 'steadytune.v1.Trainer' });
    const first = files[0];
    assert.ok(first, 'at least one file');
    assert.equal(first.name, 'steadytune/v1/trainer.proto');
    assert.equal(first.package, 'steadytune.v1');
    assert.deepEqual(
      first.service.map((s) => s.name),
      ['Trainer'],
    );
    for (const message of ['StartFineTuneRequest', 'StreamMetricsResponse']) {
      assert.ok(
        first.messageType.some((m) => m.name === message),
        message,
      );
    }
    // Every import comes along, so a client can decode every field.
    const names = files.map((f) => f.name);
    for (const dependency of first.dependency) assert.ok(names.includes(dependency), `${dependency} in ${names.join(', ')}`);
    assert.ok(named(files, 'steadytune/v1/spec.proto').messageType.some((m) => m.name === 'FineTuneSpec'));
    assert.ok(named(files, 'google/protobuf/timestamp.proto').messageType.some((m) => m.name === 'Timestamp'));
    assert.ok(named(files, 'google/protobuf/duration.proto').messageType.some((m) => m.name === 'Duration'));
  });

  it('keeps the .proto field names and proto3 optional presence', async () => {
    const spec = named(await filesFor(client, { fileByFilename: 'steadytune/v1/spec.proto' }), 'steadytune/v1/spec.proto');
    const fineTuneSpec = spec.messageType.find((m) => m.name === 'FineTuneSpec');
    assert.ok(
      fineTuneSpec?.field.some((f) => f.name === 'batch_size'),
      'FineTuneSpec.batch_size',
    );
    const lambda = spec.messageType.find((m) => m.name === 'Dsgd')?.field.find((f) => f.name === 'lambda');
    assert.equal(lambda?.proto3Optional, true);
  });

  it('describes map fields with proper map entry messages', async () => {
    const files = await filesFor(client, { fileContainingSymbol: 'grpc.health.v1.Health' });
    const health = named(files, 'grpc/health/v1/health.proto');
    const listResponse = health.messageType.find((m) => m.name === 'HealthListResponse');
    const entry = listResponse?.nestedType.find((m) => m.name === 'StatusesEntry');
    assert.equal(entry?.options?.mapEntry, true);
    assert.deepEqual(
      entry.field.map((f) => [f.name, f.number]),
      [
        ['key', 1],
        ['value', 2],
      ],
    );
  });

  it('describes every method the server serves', async () => {
    const [trainer] = await filesFor(client, { fileContainingSymbol: 'steadytune.v1.Trainer.StartFineTune' });
    const reflected = trainer?.service[0]?.method.map((m) => `/steadytune.v1.Trainer/${m.name}`) ?? [];
    const served = Object.values(TrainerService).map((method) => method.path);
    assert.deepEqual([...reflected].sort(), [...served].sort());
  });

  it('finds message types by name, e.g. google.rpc.BadRequest for error details', async () => {
    const files = await filesFor(client, { fileContainingSymbol: 'google.rpc.BadRequest' });
    const details = named(files, 'google/rpc/error_details.proto');
    assert.equal(details.package, 'google.rpc');
    assert.ok(details.messageType.some((m) => m.name === 'BadRequest'));
  });

  it('answers NOT_FOUND (5) for an unknown symbol or file', async () => {
    assert.equal((await ask(client, { fileContainingSymbol: 'no.such.Symbol' })).errorResponse?.errorCode, 5);
    assert.equal((await ask(client, { fileByFilename: 'steadytune_v1.proto' })).errorResponse?.errorCode, 5);
  });

  // Skipped where /usr/bin/python3 lacks grpc, unless STEADYTUNE_REQUIRE_PYTHON=1.
  const skipPython = missingPython !== undefined && !PYTHON_REQUIRED ? `skipped: ${missingPython}` : false;
  it('serves a Python client that knows no .proto: descriptor pool, then dynamic calls', { skip: skipPython }, async (t) => {
    assert.equal(missingPython, undefined, `STEADYTUNE_REQUIRE_PYTHON=1 but ${missingPython}`);
    const { code, output } = await runPythonScript('reflection_client.py', [server.address, REFLECTION_PROTO_ROOT]);
    for (const line of output.trim().split('\n')) t.diagnostic(line);
    assert.equal(code, 0, output);
    assert.match(output, /GetJob\(no-such-job\): NOT_FOUND/);
    assert.match(output, /StartFineTune: job \S+/);
    assert.match(output, /python reflection client: OK/);
  });
});
