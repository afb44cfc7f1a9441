// Server reflection, v1 and the older v1alpha that some clients still ask first (the two
// protocols are the same messages under two package names). It serves the real descriptors
// (see descriptor-index.ts): @grpc/reflection would rebuild them from proto-loader's output,
// which merges each package into one made-up file and drops imports.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { status, type Server, type ServerDuplexStream, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { DescriptorIndex, DescriptorLookupError } from './descriptor-index.js';

const DESCRIPTOR_SET = new URL('./gen/descriptor-set.binpb', import.meta.url);
const PROTOCOL_VERSIONS = ['v1', 'v1alpha'] as const;

/** The request as proto-loader decodes it (camelCase, `oneofs: true` names the set field). */
interface ReflectionRequest {
  readonly host: string;
  readonly messageRequest?: string;
  readonly fileByFilename?: string;
  readonly fileContainingSymbol?: string;
  readonly fileContainingExtension?: { readonly containingType: string; readonly extensionNumber: number } | null;
  readonly allExtensionNumbersOfType?: string;
  readonly listServices?: string;
}

interface ReflectionResponse {
  validHost: string;
  originalRequest: ReflectionRequest;
  fileDescriptorResponse?: { fileDescriptorProto: Uint8Array[] };
  allExtensionNumbersResponse?: { baseTypeName: string; extensionNumber: number[] };
  listServicesResponse?: { service: { name: string }[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

let sharedIndex: DescriptorIndex | undefined;

/** Parsed once per process: tests start many servers. */
export function servedDescriptors(): DescriptorIndex {
  sharedIndex ??= new DescriptorIndex(readFileSync(DESCRIPTOR_SET));
  return sharedIndex;
}

export function addReflectionService(server: Server, index: DescriptorIndex = servedDescriptors()): void {
  for (const version of PROTOCOL_VERSIONS) {
    server.addService(reflectionServiceDefinition(version), {
      serverReflectionInfo: (call: ServerDuplexStream<ReflectionRequest, ReflectionResponse>) => {
        call.on('data', (request: ReflectionRequest) => call.write(answer(index, request)));
        call.on('end', () => call.end());
      },
    });
  }
}

export function answer(index: DescriptorIndex, request: ReflectionRequest): ReflectionResponse {
  const response: ReflectionResponse = { validHost: request.host, originalRequest: request };
  try {
    switch (request.messageRequest) {
      case 'fileByFilename':
        response.fileDescriptorResponse = { fileDescriptorProto: index.fileByName(request.fileByFilename ?? '') };
        break;
      case 'fileContainingSymbol':
        response.fileDescriptorResponse = {
          fileDescriptorProto: index.fileContainingSymbol(request.fileContainingSymbol ?? ''),
        };
        break;
      case 'fileContainingExtension': {
        const { containingType = '', extensionNumber = 0 } = request.fileContainingExtension ?? {};
        response.fileDescriptorResponse = {
          fileDescriptorProto: index.fileContainingExtension(containingType, extensionNumber),
        };
        break;
      }
      case 'allExtensionNumbersOfType': {
        const baseTypeName = request.allExtensionNumbersOfType ?? '';
        response.allExtensionNumbersResponse = { baseTypeName, extensionNumber: index.extensionNumbersOf(baseTypeName) };
        break;
      }
      case 'listServices':
        response.listServicesResponse = { service: index.services().map((name) => ({ name })) };
        break;
      default:
        throw new DescriptorLookupError(status.INVALID_ARGUMENT, 'the request names no reflection query');
    }
  } catch (error) {
    const known = error instanceof DescriptorLookupError;
    response.errorResponse = {
      errorCode: known ? error.code : status.INTERNAL,
      errorMessage: known ? error.message : 'reflection failed',
    };
  }
  return response;
}

/** The protocol's own definition, as @grpc/reflection ships it. */
function reflectionServiceDefinition(version: (typeof PROTOCOL_VERSIONS)[number]): ServiceDefinition {
  const packageRoot = path.dirname(createRequire(import.meta.url).resolve('@grpc/reflection/package.json'));
  const protoRoot = path.join(packageRoot, 'build/proto');
  const definition = loadSync(`grpc/reflection/${version}/reflection.proto`, {
    includeDirs: [protoRoot],
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const service = definition[`grpc.reflection.${version}.ServerReflection`];
  if (service === undefined || 'format' in service) throw new Error(`grpc.reflection.${version}.ServerReflection not found`);
  return service;
}
