// `watch`: follow a job's event stream with a live progress line, then print its results.
import { Job, JobState, StreamMetricsResponse, jobStateToJSON } from '../index.js';
import { enumLabel } from './format.js';
import { epochLine, progressLine, ProgressTracker, runFinishedLine } from './progress.js';
import { jobResults, phaseStartedLine } from './reports.js';
import { remedyGaveUpLine } from './remedy-lines.js';
import { EXIT_JOB_UNSUCCESSFUL, EXIT_OK, printJson, printLine, type CommandContext, type OutputStream } from './context.js';

/** Redraws at most this often; replaying a long log would otherwise flood the terminal. */
const REDRAW_INTERVAL_MS = 100;
const CLEAR_LINE = '\r\x1b[2K';

/** Keeps one redrawn status line at the bottom of a TTY while permanent lines scroll above it. */
class LiveLine {
  private lastDrawMs = 0;
  private shown = false;
  private pending: string | undefined;
  private pendingTimer: NodeJS.Timeout | undefined;

  constructor(private readonly stream: OutputStream) {}

  /** Draws now, or (when throttled) once the interval has passed, so the newest state always shows. */
  draw(text: string, force = false): void {
    const waitMs = REDRAW_INTERVAL_MS - (Date.now() - this.lastDrawMs);
    if (force || waitMs <= 0) {
      this.cancelPending();
      this.lastDrawMs = Date.now();
      this.stream.write(`${CLEAR_LINE}${text}`);
      this.shown = true;
      return;
    }
    this.pending = text;
    this.pendingTimer ??= setTimeout(() => {
      this.pendingTimer = undefined;
      if (this.pending !== undefined) this.draw(this.pending, true);
    }, waitMs);
  }

  /** Prints a permanent line above the status line. */
  print(text: string): void {
    this.clear();
    printLine(this.stream, text);
  }

  clear(): void {
    this.cancelPending();
    if (this.shown) this.stream.write(CLEAR_LINE);
    this.shown = false;
  }

  private cancelPending(): void {
    clearTimeout(this.pendingTimer);
    this.pendingTimer = undefined;
    this.pending = undefined;
  }
}

/** A permanent line for the events worth keeping in the scrollback, or undefined. */
function eventLine(event: StreamMetricsResponse, tracker: ProgressTracker): string | undefined {
  const body = event.event;
  switch (body?.$case) {
    case 'runStarted':
      return `seed ${event.seed}: started (${body.value.totalSteps} steps on ${body.value.backend || 'default backend'})`;
    case 'epoch':
      return epochLine(event.seed, body.value, tracker.epochs);
    case 'runFinished':
      return runFinishedLine(event.seed, body.value);
    case 'stateChanged': {
      const state = enumLabel(jobStateToJSON(body.value.state), 'JOB_STATE_');
      return `job ${state}${body.value.reason ? `: ${body.value.reason}` : ''}`;
    }
    case 'phaseStarted':
      return phaseStartedLine(event.seed, body.value);
    case 'remedyGaveUp':
      return remedyGaveUpLine(event.seed, body.value);
    case 'notice':
      return tracker.restatesPhaseChange(body.value.message) ? undefined : `notice: ${body.value.message}`;
    default:
      return undefined;
  }
}

export async function watchJob(context: CommandContext, jobId: string, fromSequence = 0): Promise<number> {
  const { client, io, json, signal } = context;
  const initial = await client.getJob(jobId, { signal });
  const tracker = ProgressTracker.forJob(initial);
  const live = io.stdout.isTTY === true && !json ? new LiveLine(io.stdout) : undefined;
  try {
    for await (const event of client.streamMetrics(jobId, { fromSequence, signal })) {
      if (json) {
        printJson(io.stdout, { event: StreamMetricsResponse.toJSON(event) }, false);
        continue;
      }
      tracker.observe(event);
      const line = eventLine(event, tracker);
      if (live === undefined) {
        if (line !== undefined) printLine(io.stdout, line);
        continue;
      }
      if (line !== undefined) live.print(line);
      if (event.event?.$case === 'step' || line !== undefined) live.draw(progressLine(tracker, io.stdout.columns), line !== undefined);
    }
  } finally {
    live?.clear();
  }
  const finished = await client.getJob(jobId, { signal });
  if (json) printJson(io.stdout, { job: Job.toJSON(finished) }, false);
  else printLine(io.stdout, `\n${jobResults(finished)}`);
  return jobOutcome(finished);
}

/** A job that succeeded but delivers nothing (no seed is healthy) is no success for a script either. */
export function jobOutcome(job: Job): number {
  const deliversNothing = job.summary?.delivery !== undefined && job.summary.delivery.seeds.length === 0;
  return job.state === JobState.JOB_STATE_SUCCEEDED && !deliversNothing ? EXIT_OK : EXIT_JOB_UNSUCCESSFUL;
}
