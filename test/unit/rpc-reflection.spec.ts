// The reflection service's answers over the descriptor set the server ships
// (server/rpc/gen/descriptor-set.binpb): symbol lookup at every nesting level, transitive
// imports, extension queries and errors. The wire protocol is in test-reflection.spec.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { DescriptorIndex } from '../../server/rpc/descriptor-index.js';
import { answer, servedDescriptors } from '../../server/rpc/reflection.js';

const index = servedDescriptors();

function fileNames(request: Parameters<typeof answer>[1]): string[] {
  const response = answer(index, request);
  assert.equal(response.errorResponse, undefined, JSON.stringify(response.errorResponse));
  return (response.fileDescriptorResponse?.fileDescriptorProto ?? []).map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

function errorCode(request: Parameters<typeof answer>[1]): number | undefined {
  return answer(index, request).errorResponse?.errorCode;
}

describe('reflection over the served descriptor set', () => {
  it('holds the real files: the API, google.rpc, the well-known types it imports, and health', () => {
    const names = index.fileNames();
    for (const name of [
      'steadytune/v1/trainer.proto',
      'steadytune/v1/spec.proto',
      'steadytune/v1/dataset.proto',
      'google/rpc/status.proto',
      'google/rpc/error_details.proto',
      'google/protobuf/any.proto',
      'google/protobuf/duration.proto',
      'google/protobuf/timestamp.proto',
      'grpc/health/v1/health.proto',
    ]) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
    assert.deepEqual([...index.services()].sort(), ['grpc.health.v1.Health', 'steadytune.v1.Trainer']);
  });

  it('finds services, methods, messages, nested types, fields, oneofs, enums and enum values', () => {
    const cases: [string, string][] = [
      ['steadytune.v1.Trainer', 'steadytune/v1/trainer.proto'],
      ['steadytune.v1.Trainer.GetJob', 'steadytune/v1/trainer.proto'],
      ['.steadytune.v1.FineTuneSpec', 'steadytune/v1/spec.proto'],
      ['steadytune.v1.FineTuneSpec.batch_size', 'steadytune/v1/spec.proto'],
      ['steadytune.v1.AutoRemedy.Policy', 'steadytune/v1/spec.proto'],
      ['steadytune.v1.AutoRemedy.POLICY_RESTART_NEXT_SEED', 'steadytune/v1/spec.proto'],
      ['steadytune.v1.BUILTIN_NAME_MNIST', 'steadytune/v1/spec.proto'],
      ['steadytune.v1.StreamMetricsResponse.event', 'steadytune/v1/trainer.proto'],
      ['grpc.health.v1.HealthListResponse.StatusesEntry', 'grpc/health/v1/health.proto'],
      ['google.protobuf.Timestamp', 'google/protobuf/timestamp.proto'],
    ];
    for (const [symbol, file] of cases) {
      const names = fileNames({ host: '', messageRequest: 'fileContainingSymbol', fileContainingSymbol: symbol });
      assert.equal(names[0], file, symbol);
    }
  });

  it('sends the asked-for file first, then its imports transitively, each once', () => {
    const names = fileNames({ host: '', messageRequest: 'fileByFilename', fileByFilename: 'google/rpc/status.proto' });
    assert.deepEqual(names, ['google/rpc/status.proto', 'google/protobuf/any.proto']);
    const trainer = fileNames({ host: '', messageRequest: 'fileByFilename', fileByFilename: 'steadytune/v1/trainer.proto' });
    assert.equal(trainer[0], 'steadytune/v1/trainer.proto');
    assert.equal(new Set(trainer).size, trainer.length);
    for (const name of ['steadytune/v1/spec.proto', 'steadytune/v1/dataset.proto', 'google/protobuf/duration.proto']) {
      assert.ok(trainer.includes(name), name);
    }
  });

  it('answers extension queries: none for a known type, NOT_FOUND for unknown ones', () => {
    const response = answer(index, {
      host: '',
      messageRequest: 'allExtensionNumbersOfType',
      allExtensionNumbersOfType: 'steadytune.v1.FineTuneSpec',
    });
    assert.deepEqual(response.allExtensionNumbersResponse, { baseTypeName: 'steadytune.v1.FineTuneSpec', extensionNumber: [] });
    assert.equal(errorCode({ host: '', messageRequest: 'allExtensionNumbersOfType', allExtensionNumbersOfType: 'no.Such' }), 5);
    const extension = { containingType: 'steadytune.v1.FineTuneSpec', extensionNumber: 1000 };
    assert.equal(errorCode({ host: '', messageRequest: 'fileContainingExtension', fileContainingExtension: extension }), 5);
  });

  it('answers NOT_FOUND for unknown names and INVALID_ARGUMENT for an empty request', () => {
    assert.equal(errorCode({ host: '', messageRequest: 'fileContainingSymbol', fileContainingSymbol: 'steadytune.v1.Nope' }), 5);
    assert.equal(errorCode({ host: '', messageRequest: 'fileByFilename', fileByFilename: 'steadytune_v1.proto' }), 5);
    assert.equal(errorCode({ host: '' }), 3);
  });

  it('echoes the request and host, as the protocol asks', () => {
    const request = { host: 'api.example', messageRequest: 'listServices', listServices: '*' };
    const response = answer(index, request);
    assert.equal(response.validHost, 'api.example');
    assert.equal(response.originalRequest, request);
  });

  it('refuses a descriptor set whose files import one it lacks', () => {
    const orphan = create(FileDescriptorProtoSchema, { name: 'a.proto', dependency: ['missing.proto'] });
    const set = toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: [orphan] }));
    assert.throws(() => new DescriptorIndex(set), /a\.proto imports missing\.proto/);
  });
});
