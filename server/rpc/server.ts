// The gRPC server: the Trainer service, the standard health service (grpc.health.v1) and
// server reflection (grpcurl, grpcui and Postman discover the API without .proto files).
// With tokens configured every Trainer call needs a bearer token; health and reflection stay
// open, so load balancers and Kubernetes probes need no secret (they reveal no tenant data).
import type { EventEmitter } from 'node:events';
import { Server, type ServerCredentials, type ServerInterceptor, type ServerWritableStream } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { TrainerService } from '../../client/gen/steadytune/v1/trainer.js';
import type { DatasetRegistry } from '../data/index.js';
import type { JobService } from '../jobs/types.js';
import type { Logger } from '../logger.js';
import { authenticationInterceptor, BearerTokenAuthenticator, type TenantToken } from './auth.js';
import { unavailable } from './errors.js';
import { createTrainerHandlers, DRAINING_MESSAGE } from './handlers.js';
import { JobAdmission } from './job-admission.js';
import { DEFAULT_RPC_LIMITS, type RpcLimits } from './limits.js';
import { malformedRequestInterceptor, tolerantDecoding } from './malformed-requests.js';
import { addReflectionService } from './reflection.js';
import { StreamSlots } from './stream-slots.js';
import { serverCredentials, type TlsSettings } from './transport-security.js';

export const TRAINER_SERVICE_NAME = 'steadytune.v1.Trainer';
/** '' is the whole server, as the health-checking protocol defines it. */
const HEALTH_SERVICE_NAMES = ['', TRAINER_SERVICE_NAME];

export interface ServerOptions {
  /** 0 picks a free port (tests); the bound one is in the result. */
  readonly port: number;
  readonly host: string;
  readonly jobService: JobService;
  /** Registered datasets, per tenant (the dataset RPCs); absent: built-in datasets only. */
  readonly datasets?: DatasetRegistry;
  readonly logger: Logger;
  /** How often the health status re-reads jobService.ready(). */
  readonly readinessPollMs?: number;
  /** Run around every call of every service (e.g. observability's RPC metrics). */
  readonly interceptors?: readonly ServerInterceptor[];
  /** Bearer tokens (hashed) and their tenants; none = authentication off, all calls 'default'. */
  readonly tokens?: readonly TenantToken[];
  /** Absent = plaintext. */
  readonly tls?: TlsSettings;
  readonly limits?: Partial<RpcLimits>;
}

export interface RunningServer {
  readonly port: number;
  /** Re-reads jobService.ready() now (the poll catches up anyway; this skips the wait). */
  refreshHealth(): void;
  /**
   * First step of shutdown: health turns NOT_SERVING and new Trainer calls get UNAVAILABLE.
   * Open streams keep going, so they can still deliver the jobs' final events.
   */
  drain(): void;
  /**
   * Drains, ends open streams with UNAVAILABLE (clients resume elsewhere from their next
   * sequence), lets unary calls finish for up to graceMs, then cuts what is left.
   */
  close(graceMs?: number): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { jobService, logger } = options;
  const limits: RpcLimits = { ...DEFAULT_RPC_LIMITS, ...options.limits };
  const authenticator = new BearerTokenAuthenticator(options.tokens ?? []);
  warnAboutSecurity(logger, authenticator, options.tls);
  const server = new Server({
    // The caller's interceptors first, so RPC metrics see refused calls too.
    interceptors: [
      ...(options.interceptors ?? []),
      authenticationInterceptor(authenticator, { protectedServices: [TRAINER_SERVICE_NAME], logger }),
      malformedRequestInterceptor(),
    ],
    'grpc.max_receive_message_length': limits.maxReceiveMessageBytes,
  });
  const draining = new AbortController();
  const closing = new AbortController();

  server.addService(
    tolerantDecoding(TrainerService),
    createTrainerHandlers({
      jobService,
      logger,
      drainSignal: draining.signal,
      closeSignal: closing.signal,
      tenantOf: (metadata) => authenticator.tenantOf(metadata),
      admission: new JobAdmission(jobService, limits),
      streamSlots: new StreamSlots(limits),
      maxPredictExamples: limits.maxPredictExamples,
      maxUploadBytes: limits.maxUploadBytes,
      maxLineBytes: limits.maxLineBytes,
      ...(options.datasets === undefined ? {} : { datasets: options.datasets }),
    }),
  );
  const health = new HealthImplementation();
  const healthWatches = addHealthService(server, health);
  addReflectionService(server);

  // Watchers are told on every setStatus, so only a change is passed on.
  let current: ServingStatus | undefined;
  const refreshHealth = (): void => {
    const next: ServingStatus = !draining.signal.aborted && isReady(jobService, logger) ? 'SERVING' : 'NOT_SERVING';
    if (next === current) return;
    current = next;
    for (const name of HEALTH_SERVICE_NAMES) health.setStatus(name, next);
    logger.info('health status changed', { status: next });
  };
  refreshHealth();
  const port = await bind(server, options.host, options.port, serverCredentials(options.tls));
  const readinessTimer = setInterval(refreshHealth, options.readinessPollMs ?? 250);
  readinessTimer.unref();

  const drain = (): void => {
    if (draining.signal.aborted) return;
    draining.abort();
    refreshHealth();
  };

  let closed: Promise<void> | undefined;
  const close = (graceMs = 10_000): Promise<void> => {
    closed ??= (async () => {
      drain();
      clearInterval(readinessTimer);
      closing.abort();
      // Health Watch streams never end on their own; they would hold tryShutdown to the timeout.
      for (const watch of healthWatches) watch.emit('error', unavailable(DRAINING_MESSAGE));
      const graceful = await shutdownWithin(server, graceMs);
      if (!graceful) {
        logger.warn('calls still open after the grace period; closing them', { graceMs });
        server.forceShutdown();
      }
    })();
    return closed;
  };

  return { port, refreshHealth, drain, close };
}

/** Adds grpc.health.v1.Health and returns the set of its open Watch calls. */
function addHealthService(server: Server, health: HealthImplementation): ReadonlySet<EventEmitter> {
  const watches = new Set<EventEmitter>();
  health.addToServer({
    addService: (definition, implementation) => {
      // grpc-health-check types its handlers loosely; Watch is a server-streaming handler.
      const watch = implementation['watch'] as ((call: ServerWritableStream<unknown, unknown>) => void) | undefined;
      server.addService(definition, {
        ...implementation,
        watch: (call: ServerWritableStream<unknown, unknown>) => {
          watches.add(call);
          const forget = (): void => void watches.delete(call);
          call.once('cancelled', forget);
          call.once('finish', forget);
          watch?.(call);
        },
      });
    },
  });
  return watches;
}

function isReady(jobService: JobService, logger: Logger): boolean {
  try {
    return jobService.ready();
  } catch (error) {
    logger.warn('jobService.ready() threw; reporting NOT_SERVING', { error });
    return false;
  }
}

function warnAboutSecurity(logger: Logger, authenticator: BearerTokenAuthenticator, tls: TlsSettings | undefined): void {
  if (!authenticator.enabled) {
    logger.warn(
      'authentication is off (no tokens configured): every caller is tenant "default"; ' +
        'set STEADYTUNE_TOKENS or STEADYTUNE_TOKENS_FILE',
    );
  } else if (tls === undefined) {
    logger.warn('bearer tokens travel in plaintext: set STEADYTUNE_TLS_CERT and STEADYTUNE_TLS_KEY (or terminate TLS in front)');
  }
  logger.info('rpc security', {
    authentication: authenticator.enabled,
    tenants: authenticator.enabled ? authenticator.tenants().length : 0,
    tls: tls === undefined ? 'off' : tls.clientCa === undefined ? 'server' : 'mutual',
  });
}

function bind(server: Server, host: string, port: number, credentials: ServerCredentials): Promise<number> {
  // IPv6 literals need brackets in a gRPC target.
  const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, boundPort) => (error ? reject(error) : resolve(boundPort)));
  });
}

/** True when every call ended on its own within graceMs. */
function shutdownWithin(server: Server, graceMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
