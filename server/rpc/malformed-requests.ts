// Requests whose bytes are not a valid protobuf message of the method's type.
//
// grpc-js answers a request it cannot decode with INTERNAL, like grpc-go and grpc-c++. But the
// fault is the caller's, and INTERNAL is what operators alert on ("the server is broken").
// So decoding never throws here: a failure becomes a MalformedRequest value, and the
// interceptor below answers it with INVALID_ARGUMENT before any handler sees it.
import { ServerInterceptingCall, status as GrpcStatus, type ServerInterceptor, type ServiceDefinition } from '@grpc/grpc-js';
import { clip } from './field-violations.js';

export class MalformedRequest {
  constructor(readonly reason: string) {}
}

/** The same service with decoders that return MalformedRequest instead of throwing. */
export function tolerantDecoding<Definition extends ServiceDefinition>(definition: Definition): Definition {
  const methods = Object.entries(definition).map(([name, method]) => {
    const decode = method.requestDeserialize;
    const tolerant = (bytes: Buffer): unknown => {
      try {
        return decode(bytes);
      } catch (error) {
        // ts-proto throws for int64 values above 2^53 and for truncated or mis-typed fields.
        return new MalformedRequest(error instanceof Error ? error.message : String(error));
      }
    };
    return [name, { ...method, requestDeserialize: tolerant }];
  });
  return Object.fromEntries(methods) as Definition;
}

/** INVALID_ARGUMENT for a MalformedRequest; every other message passes through. */
export function malformedRequestInterceptor(): ServerInterceptor {
  return (method, call) => {
    let refused = false;
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message: unknown, forward) => {
            if (!(message instanceof MalformedRequest)) return forward(message);
            refused = true;
            call.sendStatus({
              code: GrpcStatus.INVALID_ARGUMENT,
              details: `request is not a valid ${method.path} message: ${clip(message.reason, 200)}`,
            });
          },
          // The handler would answer the missing message a second time.
          onReceiveHalfClose: (forward) => {
            if (!refused) forward();
          },
        }),
    });
  };
}
