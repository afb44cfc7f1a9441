// What server reflection answers from: the FileDescriptorSet compiled from the served .proto
// files (scripts/build-descriptor-set.sh), indexed by file name, fully qualified symbol and
// extension. Files are served as the compiler encoded them, so their names, imports, field
// names and map entries are the real ones that descriptor pools (grpcurl, Python) accept.
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import {
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';

/** A failed lookup; `code` is the gRPC status code reflection reports. */
export class DescriptorLookupError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'DescriptorLookupError';
  }
}

const NOT_FOUND = 5;

interface IndexedFile {
  readonly proto: FileDescriptorProto;
  readonly encoded: Uint8Array;
}

export class DescriptorIndex {
  private readonly files = new Map<string, IndexedFile>();
  private readonly symbols = new Map<string, IndexedFile>();
  /** Extendee (fully qualified, no leading dot) -> field number -> defining file. */
  private readonly extensions = new Map<string, Map<number, IndexedFile>>();
  private readonly serviceNames: string[] = [];

  /** Throws when a file imports one the set lacks (the set was built wrongly). */
  constructor(fileDescriptorSet: Uint8Array) {
    for (const encoded of encodedFiles(fileDescriptorSet)) {
      const proto = fromBinary(FileDescriptorProtoSchema, encoded);
      if (this.files.has(proto.name)) continue;
      const file: IndexedFile = { proto, encoded };
      this.files.set(proto.name, file);
      this.indexFile(file);
    }
    for (const { proto } of this.files.values()) {
      const missing = proto.dependency.filter((name) => !this.files.has(name));
      if (missing.length > 0) throw new Error(`${proto.name} imports ${missing.join(', ')}, absent from the descriptor set`);
    }
  }

  /** Fully qualified names of every service the set defines. */
  services(): readonly string[] {
    return this.serviceNames;
  }

  fileNames(): readonly string[] {
    return [...this.files.keys()];
  }

  /** The named file first, then everything it imports, transitively. */
  fileByName(name: string): Uint8Array[] {
    const file = this.files.get(name);
    if (file === undefined) throw new DescriptorLookupError(NOT_FOUND, `file not found: ${name}`);
    return this.withDependencies(file);
  }

  fileContainingSymbol(symbol: string): Uint8Array[] {
    const file = this.symbols.get(stripDot(symbol));
    if (file === undefined) throw new DescriptorLookupError(NOT_FOUND, `symbol not found: ${symbol}`);
    return this.withDependencies(file);
  }

  fileContainingExtension(containingType: string, fieldNumber: number): Uint8Array[] {
    const file = this.extensions.get(stripDot(containingType))?.get(fieldNumber);
    if (file === undefined) {
      throw new DescriptorLookupError(NOT_FOUND, `no extension ${fieldNumber} of ${containingType}`);
    }
    return this.withDependencies(file);
  }

  /** Extension numbers of a message type; an empty list for a known type without any. */
  extensionNumbersOf(messageType: string): number[] {
    const name = stripDot(messageType);
    if (!this.symbols.has(name)) throw new DescriptorLookupError(NOT_FOUND, `type not found: ${messageType}`);
    return [...(this.extensions.get(name)?.keys() ?? [])].sort((a, b) => a - b);
  }

  private withDependencies(file: IndexedFile): Uint8Array[] {
    const seen = new Set<string>();
    const ordered: Uint8Array[] = [];
    const visit = (current: IndexedFile): void => {
      if (seen.has(current.proto.name)) return;
      seen.add(current.proto.name);
      ordered.push(current.encoded);
      for (const name of current.proto.dependency) {
        const dependency = this.files.get(name);
        if (dependency !== undefined) visit(dependency);
      }
    };
    visit(file);
    return ordered;
  }

  private indexFile(file: IndexedFile): void {
    const { proto } = file;
    const scope = proto.package;
    for (const message of proto.messageType) this.indexMessage(file, scope, message);
    for (const enumType of proto.enumType) this.indexEnum(file, scope, enumType);
    for (const extension of proto.extension) this.indexExtension(file, scope, extension);
    for (const service of proto.service) {
      const serviceName = qualify(scope, service.name);
      this.symbols.set(serviceName, file);
      this.serviceNames.push(serviceName);
      for (const method of service.method) this.symbols.set(qualify(serviceName, method.name), file);
    }
  }

  private indexMessage(file: IndexedFile, scope: string, message: DescriptorProto): void {
    const name = qualify(scope, message.name);
    this.symbols.set(name, file);
    for (const field of message.field) this.symbols.set(qualify(name, field.name), file);
    for (const oneof of message.oneofDecl) this.symbols.set(qualify(name, oneof.name), file);
    for (const nested of message.nestedType) this.indexMessage(file, name, nested);
    for (const enumType of message.enumType) this.indexEnum(file, name, enumType);
    for (const extension of message.extension) this.indexExtension(file, name, extension);
  }

  /** Enum values are siblings of their enum (C++ scoping), as protoc names them. */
  private indexEnum(file: IndexedFile, scope: string, enumType: EnumDescriptorProto): void {
    this.symbols.set(qualify(scope, enumType.name), file);
    for (const value of enumType.value) this.symbols.set(qualify(scope, value.name), file);
  }

  private indexExtension(file: IndexedFile, scope: string, extension: FieldDescriptorProto): void {
    this.symbols.set(qualify(scope, extension.name), file);
    const extendee = stripDot(extension.extendee);
    const byNumber = this.extensions.get(extendee) ?? new Map<number, IndexedFile>();
    byNumber.set(extension.number, file);
    this.extensions.set(extendee, byNumber);
  }
}

/** The FileDescriptorSet's `file` entries (field 1) as encoded, without re-encoding them. */
function encodedFiles(fileDescriptorSet: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(fileDescriptorSet);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(reader.bytes());
    else reader.skip(wireType);
  }
  return files;
}

function qualify(scope: string, name: string): string {
  return scope === '' ? name : `${scope}.${name}`;
}

function stripDot(name: string): string {
  return name.startsWith('.') ? name.slice(1) : name;
}
