// Plain grpc-js clients for the standard services the server hosts (health, reflection), built
// from their own .proto files as any other gRPC client would build them.
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  credentials,
  loadPackageDefinition,
  type Client,
  type ClientReadableStream,
  type ClientDuplexStream,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export interface HealthClient extends Client {
  check(
    request: { service: string },
    callback: (error: ServiceError | null, response?: { status: ServingStatus }) => void,
  ): void;
  watch(request: { service: string }): ClientReadableStream<{ status: ServingStatus }>;
}

export interface ReflectionRequest {
  listServices?: string;
  fileContainingSymbol?: string;
}

export interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

export interface ReflectionClient extends Client {
  serverReflectionInfo(): ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
}

const LOADER_OPTIONS = { longs: String, enums: String, defaults: true, oneofs: true } as const;

function serviceConstructor(file: string, includeDir: string, servicePath: string[]): ServiceClientConstructor {
  const loaded: unknown = loadPackageDefinition(loadSync(file, { ...LOADER_OPTIONS, includeDirs: [includeDir] }));
  let node = loaded;
  for (const name of servicePath) node = (node as Record<string, unknown>)[name];
  if (typeof node !== 'function') throw new Error(`${servicePath.join('.')} not found in ${file}`);
  return node as ServiceClientConstructor;
}

export function healthClient(address: string): HealthClient {
  const Health = serviceConstructor(healthProtoPath, path.dirname(healthProtoPath), ['grpc', 'health', 'v1', 'Health']);
  return new Health(address, credentials.createInsecure()) as unknown as HealthClient;
}

export function reflectionClient(address: string): ReflectionClient {
  // The v1 reflection protocol's own .proto, as shipped with @grpc/reflection.
  const reflectionPackage = path.dirname(createRequire(import.meta.url).resolve('@grpc/reflection/package.json'));
  const file = path.join(reflectionPackage, 'build/proto/grpc/reflection/v1/reflection.proto');
  const Reflection = serviceConstructor(file, path.dirname(file), ['grpc', 'reflection', 'v1', 'ServerReflection']);
  return new Reflection(address, credentials.createInsecure()) as unknown as ReflectionClient;
}

export function check(client: HealthClient, service: string): Promise<ServingStatus> {
  return new Promise((resolve, reject) =>
    client.check({ service }, (error, response) => (error ? reject(error) : resolve(response?.status ?? 'UNKNOWN'))),
  );
}
