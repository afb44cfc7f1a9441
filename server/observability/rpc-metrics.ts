// RPC latency as a grpc-js server interceptor (Server's `interceptors` option), so every
// service on the server is measured without touching a handler. Only registered methods
// reach interceptors (unknown paths are answered UNIMPLEMENTED before), so rpc_method is bounded.
import { ServerInterceptingCall, status as GrpcStatus, type ServerInterceptor } from '@grpc/grpc-js';
import type { SteadytuneMetrics } from './metrics.js';

/** Monotonic milliseconds. */
export type MonotonicClock = () => number;

export function rpcMetricsInterceptor(metrics: SteadytuneMetrics, clock: MonotonicClock = () => performance.now()): ServerInterceptor {
  return (method, call) => {
    const rpcMethod = method.path.replace(/^\//, '');
    const started = clock();
    let recorded = false;
    const record = (code: number): void => {
      // A call ends once: by its status, or by the client going away (then no status is sent).
      if (recorded) return;
      recorded = true;
      metrics.rpcDuration.observe({ rpc_method: rpcMethod, code: statusName(code) }, (clock() - started) / 1000);
    };
    return new ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: () => record(GrpcStatus.CANCELLED) }),
      sendStatus: (status, next) => {
        record(status.code);
        next(status);
      },
    });
  };
}

/** 'OK', 'NOT_FOUND', ...: the names operators know from grpcurl and the gRPC docs. */
export function statusName(code: number): string {
  const name: unknown = GrpcStatus[code];
  return typeof name === 'string' ? name : 'UNKNOWN';
}
