// The scale-out EventLog: one Redis stream per job, entry ids `<sequence>-0`. The id IS the
// job's dense sequence number, so any API replica serves StreamMetrics(from_sequence) with a
// plain XRANGE from `<from_sequence>` and a reconnecting client neither misses nor repeats an
// event, whichever replica it lands on. Appends come from several processes (the API pod
// queues and cancels, the worker trains), so the next number is chosen inside Redis: one Lua
// script reads the last id, refuses appends to a closed log, XADDs and PUBLISHes, atomically.
// Redis must persist (AOF) in production: the streams are the record of every job's events.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { EventLog } from '../event-log.js';
import { TERMINAL_STATES, type JobEvent, type JobEventBody } from '../types.js';
import type { AppendNotifications } from './append-notifications.js';
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
}

/** Entries a follower or read() fetches per XRANGE: bounded memory for long replays. */
const READ_BATCH = 512;

// KEYS[1] the stream. ARGV: time, seed, closes (0|1), body, channel. Returns the new
// sequence, or -1 when the log is closed (its last entry was a terminal state_changed).
const APPEND_SCRIPT = `
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
return sequence
`;
const APPEND_SHA = createHash('sha1').update(APPEND_SCRIPT).digest('hex');

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
    const args = [String(time), String(seed), closes ? '1' : '0', encodeValue(body), this.channel(jobId)];
    const sequence = await this.runAppend(this.streamKey(jobId), args);
    if (sequence < 0) throw new Error(`event log of job ${jobId} is closed; refusing ${body.kind}`);
    return { sequence, time, seed, body };
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

  private channel(jobId: string): string {
    return `${this.options.prefix}:appended:${jobId}`;
  }

  /** EVALSHA, loading the script on a server that does not have it yet (first use, restart). */
  private async runAppend(key: string, args: (string | Buffer)[]): Promise<number> {
    const { redis } = this.options;
    try {
      return Number(await redis.evalsha(APPEND_SHA, 1, key, ...args));
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return Number(await redis.eval(APPEND_SCRIPT, 1, key, ...args));
    }
  }
}

function firstSequence(from: number): number {
  return Math.max(1, Math.floor(from));
}

function decodeEntry([id, fields]: StreamEntry): DecodedEntry {
  const values = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (name !== undefined && value !== undefined) values.set(name.toString(), value);
  }
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
