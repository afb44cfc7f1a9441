// The scale-out counterpart of the job database's schema 4 (persistence/phase-notice-migration.ts):
// job logs in Redis written before phase_started existed carry phase changes as notices only,
// and a resumed job reads its log to know where the current phase's steps begin. A stream entry
// cannot be edited, nor a new one added below the last id, so a stream holding such notices is
// rewritten whole, with the same ids, in one MULTI under WATCH: an append by another pod in
// between makes EXEC fail, and the rewrite reads again. Only jobs with auto-remedy in their spec
// can hold phase notices. A marker key says the pass ran; pods starting together may both run
// it, and the second finds nothing left to change.
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { phaseChangeFromNotice, phaseNoticeOf } from '../persistence/phase-notice-migration.js';
import { decodeValue, encodeValue } from '../persistence/value-codec.js';
import { streamFields } from './redis-event-log.js';
import { phaseStartedEvent } from '../run-phases.js';
import type { JobEventBody, JobSpec, SeedRun } from '../types.js';

/** Attempts per stream before giving up on a log that keeps growing under the rewrite. */
const MAX_ATTEMPTS = 20;

export interface PhaseNoticeRewrite {
  /** Commands; WATCH holds this connection, so it must be one nothing else uses meanwhile. */
  readonly redis: Redis;
  readonly pool: Pool;
  /** The event log's key prefix: streams are `<prefix>:events:<jobId>`. */
  readonly prefix: string;
}

/** Rewrites the phase notices of every remedied job's stream, once per prefix. */
export async function rewriteRedisPhaseNotices(
  options: PhaseNoticeRewrite,
): Promise<{ readonly rewritten: number; readonly left: number }> {
  const { redis, pool, prefix } = options;
  const marker = `${prefix}:migrations:phase-notices`;
  if ((await redis.exists(marker)) === 1) return { rewritten: 0, left: 0 };
  let rewritten = 0;
  let left = 0;
  const jobs = await pool.query<{ id: string; spec: Buffer }>('SELECT id, spec FROM jobs');
  for (const job of jobs.rows) {
    const policy = decodeValue<JobSpec>(job.spec).autoRemedy?.policy;
    if (policy === undefined) continue;
    const runs = await pool.query<{ seed: number; run: Buffer }>('SELECT seed, run FROM job_runs WHERE job_id = $1', [job.id]);
    const phases = new Map(runs.rows.map((row) => [row.seed, decodeValue<SeedRun>(row.run).phases]));
    const counts = await rewriteStream(redis, `${prefix}:events:${job.id}`, (message, seed) =>
      phaseChangeFromNotice(message, seed, phases.get(seed), policy),
    );
    rewritten += counts.rewritten;
    left += counts.left;
  }
  await redis.set(marker, String(Date.now()));
  return { rewritten, left };
}

type Convert = (message: string, seed: number) => ReturnType<typeof phaseChangeFromNotice>;

async function rewriteStream(redis: Redis, key: string, convert: Convert): Promise<{ rewritten: number; left: number }> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    await redis.watch(key);
    const entries = await redis.xrangeBuffer(key, '-', '+');
    let rewritten = 0;
    let left = 0;
    const next = entries.map(([id, fields]) => {
      const change = phaseChangeOf(fields, convert);
      if (change === 'not_a_phase_notice') return { id, fields };
      if (change === undefined) {
        left += 1;
        return { id, fields };
      }
      rewritten += 1;
      return { id, fields: withBody(fields, encodeValue(phaseStartedEvent(change))) };
    });
    if (rewritten === 0) {
      await redis.unwatch();
      return { rewritten, left };
    }
    const transaction = redis.multi().del(key);
    for (const entry of next) transaction.xadd(key, entry.id, ...entry.fields);
    if ((await transaction.exec()) !== null) return { rewritten, left };
  }
  throw new Error(`could not rewrite the phase notices of ${key}: it kept changing under ${MAX_ATTEMPTS} attempts`);
}

/** The event a stream entry's old phase notice stands for; undefined when the run row lacks it. */
function phaseChangeOf(fields: readonly Buffer[], convert: Convert): ReturnType<Convert> | 'not_a_phase_notice' {
  const values = streamFields(fields);
  const body = values.get('body');
  if (body === undefined) return 'not_a_phase_notice';
  const event = decodeValue<JobEventBody>(body);
  if (event.kind !== 'notice' || phaseNoticeOf(event.message) === undefined) return 'not_a_phase_notice';
  return convert(event.message, Number(values.get('seed')?.toString()));
}

function withBody(fields: readonly Buffer[], body: Buffer): Buffer[] {
  return fields.map((field, i) => (i % 2 === 1 && fields[i - 1]?.toString() === 'body' ? body : field));
}
