// Server reflection (grpc.reflection.v1), what grpcurl and grpcui use: list the services, and
// fetch the file that defines a symbol together with its dependencies.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { reflectionClient, type ReflectionClient, type ReflectionRequest, type ReflectionResponse } from '../fixtures/grpc-clients.js';
import { startTestServer, type TestServer } from '../fixtures/server-harness.js';

interface FileSummary {
  name: string;
  packageName: string;
  messages: string[];
  services: string[];
}

/** The FileDescriptorProto fields the assertions need: name (1), package (2), message (4) and service (6) names. */
function describeFile(bytes: Uint8Array): FileSummary {
  const reader = new BinaryReader(bytes);
  const file: FileSummary = { name: '', packageName: '', messages: [], services: [] };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) file.name = reader.string();
    else if (field === 2) file.packageName = reader.string();
    else if (field === 4) file.messages.push(nameOf(reader.bytes()));
    else if (field === 6) file.services.push(nameOf(reader.bytes()));
    else reader.skip(wireType);
  }
  return file;
}

/** Field 1 of a DescriptorProto / ServiceDescriptorProto. */
function nameOf(bytes: Uint8Array): string {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) return reader.string();
    reader.skip(wireType);
  }
  return '';
}

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

  // @grpc/reflection serves one file per package (steadytune_v1.proto holding trainer.proto and
  // spec.proto), a documented limitation; clients resolve symbols, not file names, so it works.
  it('returns the file containing steadytune.v1.Trainer, with the files it depends on', async () => {
    const response = await ask(client, { fileContainingSymbol: 'steadytune.v1.Trainer' });
    const files = (response.fileDescriptorResponse?.fileDescriptorProto ?? []).map(describeFile);
    const first = files[0];
    assert.ok(first, 'at least one file');
    assert.equal(first.packageName, 'steadytune.v1');
    assert.deepEqual(first.services, ['Trainer']);
    for (const message of ['StartFineTuneRequest', 'StreamMetricsResponse', 'FineTuneSpec']) {
      assert.ok(first.messages.includes(message), `${message} in ${first.messages.join(', ')}`);
    }
    // Timestamp and Duration come along, so a client can decode every field.
    const google = files.find((f) => f.packageName === 'google.protobuf');
    assert.ok(google?.messages.includes('Timestamp') && google.messages.includes('Duration'), JSON.stringify(files));
  });

  it('finds message types by name, e.g. google.rpc.BadRequest for error details', async () => {
    const response = await ask(client, { fileContainingSymbol: 'google.rpc.BadRequest' });
    const files = (response.fileDescriptorResponse?.fileDescriptorProto ?? []).map(describeFile);
    assert.ok(files.some((f) => f.packageName === 'google.rpc' && f.messages.includes('BadRequest')));
  });

  it('answers NOT_FOUND (5) for an unknown symbol', async () => {
    const response = await ask(client, { fileContainingSymbol: 'no.such.Symbol' });
    assert.equal(response.errorResponse?.errorCode, 5);
  });
});
