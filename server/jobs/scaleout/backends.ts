// The connections a scale-out process holds: a PostgreSQL pool (the store, migrated here, as are
// the Redis event log's old phase notices), a Redis command connection (event appends and reads,
// cancel publishes), one Redis subscriber per process (event wake-ups) and one for the cancel
// channel (workers), plus BullMQ's own.
import type { ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { AppendNotifications } from './append-notifications.js';
import { HeldClaims, type JobClaim } from './job-claims.js';
import { JobQueue } from './job-queue.js';
import { PostgresJobStateCounts } from './job-state-counts.js';
import { migratePostgres } from './postgres-schema.js';
import { PostgresJobStore } from './postgres-store.js';
import { RedisEventLog } from './redis-event-log.js';
import { rewriteRedisPhaseNotices } from './redis-phase-notices.js';
import { PostgresDatasetRegistry } from './postgres-dataset-registry.js';
import type { DatasetRegistry } from '../../data/index.js';
import type { FileBackedRegistryOptions } from '../persistence/file-backed-dataset-registry.js';

export interface ScaleOutBackendOptions {
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly redisPrefix: string;
  readonly clock: () => number;
  /** Connections to PostgreSQL; default 10. */
  readonly databasePoolSize?: number;
}

export interface ScaleOutBackends {
  readonly store: PostgresJobStore;
  readonly eventLog: RedisEventLog;
  readonly queue: JobQueue;
  /**
   * Claims a job for this process (a worker about to train it): a new generation in the store,
   * the log's fence raised to it; every earlier claim's writes are refused from then on.
   */
  claim(jobId: string): Promise<JobClaim>;
  /** The deployment's live job counts, for the one API process that exports them. */
  readonly jobStateCounts: PostgresJobStateCounts;
  /** For BullMQ workers (they open their own connections from it). */
  readonly queueConnection: ConnectionOptions;
  /** A fresh subscriber connection (workers' cancel channel); closed with the rest. */
  subscriber(): Redis;
  /** The dataset registry every pod shares: rows in PostgreSQL, contents in options.contentDir on the shared volume. */
  openDatasetRegistry(options: FileBackedRegistryOptions): DatasetRegistry;
  close(): Promise<void>;
}

export async function openScaleOutBackends(options: ScaleOutBackendOptions): Promise<ScaleOutBackends> {
  const pool = new Pool({ connectionString: options.databaseUrl, max: options.databasePoolSize ?? 10 });
  // An idle client's error (the server restarted) would otherwise be an uncaught exception.
  pool.on('error', () => {});
  const redisConnections: Redis[] = [];
  const connect = (): Redis => {
    const redis = new Redis(options.redisUrl, { lazyConnect: true });
    redis.on('error', () => {}); // ioredis reconnects by itself; failed commands reject
    redisConnections.push(redis);
    return redis;
  };
  // BullMQ blocks on its connections: it needs commands never to give up while Redis reconnects.
  const queueConnection: ConnectionOptions = { url: options.redisUrl, maxRetriesPerRequest: null };
  let queue: JobQueue | undefined;
  const jobStateCounts = new PostgresJobStateCounts(pool);
  const close = async (): Promise<void> => {
    await jobStateCounts.close();
    await queue?.close().catch(() => {});
    for (const redis of redisConnections.splice(0)) redis.disconnect();
    await pool.end().catch(() => {});
  };
  try {
    await migratePostgres(pool);
    const redis = connect();
    const notifier = connect();
    const migrating = connect();
    await Promise.all([redis.connect(), notifier.connect(), migrating.connect()]);
    // Its own connection: the rewrite WATCHes streams, which a shared connection would disturb.
    await rewriteRedisPhaseNotices({ redis: migrating, pool, prefix: options.redisPrefix });
    migrating.disconnect();
    queue = new JobQueue(queueConnection, options.redisPrefix, redis);
    const claims = new HeldClaims();
    const eventLog = new RedisEventLog({
      redis,
      notifications: new AppendNotifications(notifier),
      prefix: options.redisPrefix,
      clock: options.clock,
      claims,
    });
    const store = new PostgresJobStore(pool, claims);
    return {
      store,
      eventLog,
      queue,
      claim: async (jobId) => {
        const claim = await store.claim(jobId);
        try {
          await eventLog.raiseFence(jobId, claim.generation);
        } catch (error) {
          claim.release();
          throw error;
        }
        return claim;
      },
      jobStateCounts,
      queueConnection,
      subscriber: () => {
        const subscriber = connect();
        void subscriber.connect().catch(() => {});
        return subscriber;
      },
      openDatasetRegistry: (registryOptions) => new PostgresDatasetRegistry(pool, registryOptions),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
