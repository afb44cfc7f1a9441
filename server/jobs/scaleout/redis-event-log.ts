// The scale-out EventLog: one Redis stream per job, entry ids `<sequence>-0`. The id IS the
// job's dense sequence number, so any API replica serves StreamMetrics(from_sequence) with a
// plain XRANGE from `<from_sequence>` and a reconnecting client neither misses nor repeats an
// event, whichever replica it lands on. Appends come from several processes (the API pod
// queues and cancels, the worker trains), so the next number is chosen inside Redis: one Lua
// script reads the last id, refuses appends to a closed log, XADDs and PUBLISHes, atomically.
// Redis must persist (AOF) in production: the streams are the record of every job's events.
// Appends of a job this process has claimed carry the claim's generation, and the script refuses
// them once a newer claim has raised the job's fence (job-claims.ts): a worker the job was taken
// from logs nothing beside the new holder.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { EventLog } from '../event-log.js';
import { TERMINAL_STATES, type JobEvent, type JobEventBody } from '../types.js';
import type { AppendNotifications } from './append-notifications.js';
import type { HeldClaims } from './job-claims.js';
import { decodeValue, encodeValue } from '../persistence/value-codec.js';

export interface RedisEventLogOptions {
  /** Commands (not in subscriber mode). */
  readonly redis: Redis;
  /** Wake-ups for followers (its own subscriber connection). */
  readonly notifications: AppendNotifications;
  /** Key prefix shared with the queue: `<prefix>:events:<jobId>`. */
  readonly prefix: string;
  /** Epoch milliseconds for event times. */
  readonly clock: () => number;
  /** How often a parked follower re-reads without a wake-up (lost pub/sub messages); default 1000. */
  readonly pollMs?: number;
  /** The claims this process holds (shared with its store); absent: no append is fenced. */
  readonly claims?: HeldClaims;
}

/** Entries a follower or read() fetches per XRANGE: bounded memory for long replays. */
const READ_BATCH = 512;

// KEYS[1] the stream, KEYS[2] its fence. ARGV: time, seed, closes (0|1), body, channel, the
// appender's claim generation ('' when it holds no claim). Returns the new sequence, -1 when the
// log is closed (its last entry was a terminal state_changed), -2 when a newer claim fenced the
// appender off. Closing the log drops the fence: nothing may append any more anyway.
const APPEND_SCRIPT = `
if ARGV[6] ~= '' and tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[6]) then return -2 end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local sequence = 0
if #last > 0 then
  sequence = tonumber(string.match(last[1][1], '^(%d+)-'))
  local fields = last[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'closes' and fields[i + 1] == '1' then return -1 end
  end
end
sequence = sequence + 1
redis.call('XADD', KEYS[1], sequence .. '-0', 'time', ARGV[1], 'seed', ARGV[2], 'closes', ARGV[3], 'body', ARGV[4])
redis.call('PUBLISH', ARGV[5], sequence)
if ARGV[3] == '1' then redis.call('DEL', KEYS[2]) end
return sequence
`;
const APPEND_SHA = createHash('sha1').update(APPEND_SCRIPT).digest('hex');

// KEYS[1] a job's fence. ARGV[1] a new claim's generation: the fence rises to it, never falls.
const RAISE_FENCE_SCRIPT = `
if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;

type StreamEntry = [id: Buffer, fields: Buffer[]];

interface DecodedEntry {
  readonly event: JobEvent;
  readonly closes: boolean;
}

export class RedisEventLog implements EventLog {
  private readonly pollMs: number;

  constructor(private readonly options: RedisEventLogOptions) {
    this.pollMs = options.pollMs ?? 1000;
  }

  async append(jobId: string, seed: number, body: JobEventBody): Promise<JobEvent> {
    const time = this.options.clock();
    const closes = body.kind === 'state_changed' && TERMINAL_STATES.has(body.state);
    const { claims } = this.options;
    const generation = claims?.generationOf(jobId);
    const args = [
      String(time),
      String(seed),
      closes ? '1' : '0',
      encodeValue(body),
      this.channel(jobId),
      generation === undefined ? '' : String(generation),
    ];
    const sequence = await this.runAppend([this.streamKey(jobId), this.fenceKey(jobId)], args);
    if (sequence === -2 && claims !== undefined && generation !== undefined) throw claims.refused(jobId, generation, undefined);
    if (sequence < 0) throw new Error(`event log of job ${jobId} is closed; refusing ${body.kind}`);
    return { sequence, time, seed, body };
  }

  /** A new claim of the job: appends of every older claim are refused from now on. */
  async raiseFence(jobId: string, generation: number): Promise<void> {
    await this.options.redis.eval(RAISE_FENCE_SCRIPT, 1, this.fenceKey(jobId), String(generation));
  }

  async read(jobId: string, from: number): Promise<JobEvent[]> {
    const events: JobEvent[] = [];
    let next = firstSequence(from);
    for (;;) {
      const batch = await this.range(jobId, next, READ_BATCH);
      for (const { event } of batch) events.push(event);
      const last = batch.at(-1);
      if (last === undefined || batch.length < READ_BATCH) return events;
      next = last.event.sequence + 1;
    }
  }

  async lastSequence(jobId: string): Promise<number> {
    return (await this.last(jobId))?.event.sequence ?? 0;
  }

  follow(jobId: string, from: number, signal: AbortSignal): AsyncIterable<JobEvent> {
    return this.followFrom(jobId, firstSequence(from), signal);
  }

  /** Every key of a job's log (tests and clean-up). */
  streamKey(jobId: string): string {
    return `${this.options.prefix}:events:${jobId}`;
  }

  /**
   * Replay and live delivery are one loop from a cursor. The watch is live before the first
   * read, and reset right before each read: an append landing after a read that found nothing
   * has set the watch, so the follower re-reads instead of parking.
   */
  private async *followFrom(jobId: string, start: number, signal: AbortSignal): AsyncGenerator<JobEvent> {
    if (signal.aborted) return;
    const watch = await this.options.notifications.watch(this.channel(jobId));
    try {
      let next = start;
      // An abort ends the follower at its next step: a read already under way is still delivered.
      for (;;) {
        watch.reset();
        const batch = await this.range(jobId, next, READ_BATCH);
        for (const { event, closes } of batch) {
          next = event.sequence + 1;
          yield event;
          if (closes || signal.aborted) return;
        }
        if (batch.length > 0) continue;
        if (signal.aborted) return;
        const last = await this.last(jobId);
        if (last?.closes && next > last.event.sequence) return;
        await watch.wait(signal, this.pollMs);
      }
    } finally {
      watch.close();
    }
  }

  private async range(jobId: string, from: number, count: number): Promise<DecodedEntry[]> {
    const entries = await this.options.redis.xrangeBuffer(this.streamKey(jobId), `${from}-0`, '+', 'COUNT', count);
    return entries.map(decodeEntry);
  }

  private async last(jobId: string): Promise<DecodedEntry | undefined> {
    const [entry] = await this.options.redis.xrevrangeBuffer(this.streamKey(jobId), '+', '-', 'COUNT', 1);
    return entry === undefined ? undefined : decodeEntry(entry);
  }

  private fenceKey(jobId: string): string {
    return `${this.options.prefix}:fence:${jobId}`;
  }

  private channel(jobId: string): string {
    return `${this.options.prefix}:appended:${jobId}`;
  }

  /** EVALSHA, loading the script on a server that does not have it yet (first use, restart). */
  private async runAppend(keys: readonly string[], args: (string | Buffer)[]): Promise<number> {
    const { redis } = this.options;
    try {
      return Number(await redis.evalsha(APPEND_SHA, keys.length, ...keys, ...args));
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return Number(await redis.eval(APPEND_SCRIPT, keys.length, ...keys, ...args));
    }
  }
}

function firstSequence(from: number): number {
  return Math.max(1, Math.floor(from));
}

/** A stream entry's flat [name, value, name, value, ...] list as a map. */
export function streamFields(fields: readonly Buffer[]): Map<string, Buffer> {
  const values = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (name !== undefined && value !== undefined) values.set(name.toString(), value);
  }
  return values;
}

function decodeEntry([id, fields]: StreamEntry): DecodedEntry {
  const values = streamFields(fields);
  const body = values.get('body');
  if (body === undefined) throw new Error(`event ${id.toString()} has no body`);
  return {
    event: {
      sequence: Number.parseInt(id.toString(), 10),
      time: Number(values.get('time')?.toString()),
      seed: Number(values.get('seed')?.toString()),
      body: decodeValue<JobEventBody>(body),
    },
    closes: values.get('closes')?.toString() === '1',
  };
}
