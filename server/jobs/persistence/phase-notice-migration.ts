// Logs written before the phase_started event existed recorded an auto-remedy phase change
// only as a notice ("auto-remedy: seed S phase P from step N: ..."). Schema 4 of the job
// database rewrites each such notice once, in place, into the phase_started event the server
// writes now, so resume and clients read one form and nothing at run time parses notices.
// In place: same sequence, time and seed. The server now logs the event and then the notice,
// but inserting an entry would renumber the log, and clients hold sequence numbers as resume
// points; the words stay in the event (and in the job's notices).
//
// The notice names the run's seed, the phase and its start step; the rest comes from the run
// row, which recorded both phases from the same worker report, and the job's remedy policy.
import type BetterSqlite3 from 'better-sqlite3';
import type { RemedyPolicy } from '../remedy-policy.js';
import { phaseStartedEvent } from '../run-phases.js';
import type { JobEventBody, JobSpec, PhaseChange, RunPhase } from '../types.js';
import { decodeValue, encodeValue } from './value-codec.js';

const PHASE_NOTICE = /^auto-remedy: seed (\d+) phase (\d+) from step (\d+):/;

export interface PhaseNotice {
  readonly runSeed: number;
  /** Position of the phase that starts in SeedRun.phases (the notice counts from 1). */
  readonly index: number;
  readonly startStep: number;
}

/** What an old phase-start notice says, or undefined for any other notice. */
export function phaseNoticeOf(message: string): PhaseNotice | undefined {
  const match = PHASE_NOTICE.exec(message);
  if (match === null) return undefined;
  return { runSeed: Number(match[1]), index: Number(match[2]) - 1, startStep: Number(match[3]) };
}

/**
 * The event an old notice of `seed`'s run stands for, given the run row's phases and the job's
 * policy; undefined when it is no phase notice or the row lacks the phases it names.
 */
export function phaseChangeFromNotice(
  message: string,
  seed: number,
  phases: readonly RunPhase[] | undefined,
  policy: RemedyPolicy | undefined,
): PhaseChange | undefined {
  const notice = phaseNoticeOf(message);
  if (notice === undefined || notice.runSeed !== seed || notice.index < 1 || policy === undefined) return undefined;
  const ended = phases?.[notice.index - 1];
  const started = phases?.[notice.index];
  if (ended === undefined || started === undefined || started.startStep !== notice.startStep) return undefined;
  // As the worker reported it: open, before the row closed it.
  const next: RunPhase = {
    seed: started.seed,
    method: started.method,
    startStep: started.startStep,
    endStep: started.startStep,
    reason: '',
  };
  return { index: notice.index, policy, ended, next, notice: message };
}

interface NoticeRow {
  readonly job_id: string;
  readonly sequence: number;
  readonly seed: number;
  readonly body: Buffer;
}

/** Rewrites every phase notice of the job database's event log; returns how many were rewritten and left. */
export function rewritePhaseNotices(db: BetterSqlite3.Database): { readonly rewritten: number; readonly left: number } {
  const notices = db
    .prepare(`SELECT job_id, sequence, seed, body FROM job_events WHERE kind = 'notice' ORDER BY job_id, sequence`)
    .all() as NoticeRow[];
  const spec = db.prepare('SELECT spec FROM jobs WHERE id = ?');
  const run = db.prepare('SELECT phases FROM job_runs WHERE job_id = ? AND seed = ?');
  const update = db.prepare(`UPDATE job_events SET kind = 'phase_started', body = ? WHERE job_id = ? AND sequence = ?`);
  let rewritten = 0;
  let left = 0;
  for (const row of notices) {
    const body = decodeValue<JobEventBody>(row.body);
    if (body.kind !== 'notice' || phaseNoticeOf(body.message) === undefined) continue;
    const specRow = spec.get(row.job_id) as { spec: Buffer } | undefined;
    const runRow = run.get(row.job_id, row.seed) as { phases: Buffer | null } | undefined;
    const policy = specRow === undefined ? undefined : decodeValue<JobSpec>(specRow.spec).autoRemedy?.policy;
    const phasesBlob = runRow?.phases ?? null;
    const phases = phasesBlob === null ? undefined : decodeValue<RunPhase[]>(phasesBlob);
    const change = phaseChangeFromNotice(body.message, row.seed, phases, policy);
    if (change === undefined) {
      // A row that never recorded the change (a crash between the two writes): the notice stays.
      left += 1;
      continue;
    }
    update.run(encodeValue(phaseStartedEvent(change)), row.job_id, row.sequence);
    rewritten += 1;
  }
  return { rewritten, left };
}
