// A two-method gRPC service with JSON messages, for observability tests that need a real
// grpc-js server on a loopback port but not the Trainer service (no protos, no workers).
import {
  Metadata,
  Server,
  ServerCredentials,
  credentials,
  makeGenericClientConstructor,
  type Client,
  type MethodDefinition,
  type ServerInterceptor,
  type ServiceDefinition,
  type ServiceError,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';

export interface EchoMessage {
  readonly text: string;
}

export type EchoMethod = 'Echo' | 'Fail';

function unary(path: string): MethodDefinition<EchoMessage, EchoMessage> {
  const serialize = (value: EchoMessage): Buffer => Buffer.from(JSON.stringify(value));
  const deserialize = (bytes: Buffer): EchoMessage => JSON.parse(bytes.toString()) as EchoMessage;
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  };
}

const ECHO_METHODS: Record<EchoMethod, MethodDefinition<EchoMessage, EchoMessage>> = {
  Echo: unary('/test.v1.Echo/Echo'),
  Fail: unary('/test.v1.Echo/Fail'),
};
const ECHO_SERVICE: ServiceDefinition = ECHO_METHODS;

export interface EchoServer {
  readonly address: string;
  close(): Promise<void>;
}

export async function startEchoServer(
  implementation: UntypedServiceImplementation,
  interceptors: ServerInterceptor[] = [],
): Promise<EchoServer> {
  const server = new Server({ interceptors });
  server.addService(ECHO_SERVICE, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    address: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

export function echoClient(address: string): Client {
  const Constructor = makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  return new Constructor(address, credentials.createInsecure());
}

export interface EchoOutcome {
  readonly reply?: EchoMessage;
  readonly error?: ServiceError;
}

/** One unary call; resolves with the reply or the error, never rejects. */
export function callEcho(client: Client, method: EchoMethod, text: string, metadata = new Metadata()): Promise<EchoOutcome> {
  const definition = ECHO_METHODS[method];
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      { text },
      metadata,
      (error, reply) => resolve(error ? { error } : reply === undefined ? {} : { reply }),
    );
  });
}
