// The gRPC server of a scale-out worker pod: grpc.health.v1 only, for the Kubernetes probes and
// deploy/healthcheck.mjs. Workers take no client calls, so there is no Trainer service, no
// tenant data and nothing to authenticate; it speaks plaintext like the probes do.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { Logger } from '../logger.js';

export interface HealthServerOptions {
  readonly host: string;
  /** 0 = any free port. */
  readonly port: number;
  /** SERVING while this returns true. */
  readonly ready: () => boolean;
  readonly logger: Logger;
  /** How often ready() is re-read; default 250 ms. */
  readonly pollMs?: number;
}

export interface RunningHealthServer {
  readonly port: number;
  /** NOT_SERVING from now on (shutdown has begun). */
  drain(): void;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<RunningHealthServer> {
  const server = new Server();
  const health = new HealthImplementation();
  health.addToServer(server);
  let draining = false;
  let current: ServingStatus | undefined;
  const refresh = (): void => {
    const next: ServingStatus = !draining && safely(options.ready) ? 'SERVING' : 'NOT_SERVING';
    if (next === current) return;
    current = next;
    health.setStatus('', next);
    options.logger.info('health status changed', { status: next });
  };
  refresh();
  const address = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${address}:${options.port}`, ServerCredentials.createInsecure(), (error, bound) =>
      error === null ? resolve(bound) : reject(error),
    );
  });
  const timer = setInterval(refresh, options.pollMs ?? 250);
  timer.unref();
  return {
    port,
    drain: () => {
      draining = true;
      refresh();
    },
    close: async () => {
      clearInterval(timer);
      // Watch streams never end on their own: a graceful shutdown would wait for them forever.
      server.forceShutdown();
    },
  };
}

function safely(ready: () => boolean): boolean {
  try {
    return ready();
  } catch {
    return false;
  }
}
