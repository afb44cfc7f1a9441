// The escalating auto-remedy policy's decisions in words: on phase-change lines, as their own
// line when it gave up, on the phases of a run, and the job's budget.
import { remedyDecision_KindToJSON, type RemedyDecision, type RemedyGaveUp, type RunPhase, type SeedRun } from '../index.js';
import { enumLabel } from './format.js';

/** `restart`, `switch method`, `give up`. */
function kindLabel(decision: RemedyDecision): string {
  return enumLabel(remedyDecision_KindToJSON(decision.kind), 'KIND_').replace('_', ' ');
}

/** `extra steps 20 of 60 used`, or '' without a budget. */
function budgetText(decision: RemedyDecision): string {
  const { budget } = decision;
  return budget === undefined ? '' : `extra steps ${budget.usedSteps} of ${budget.limitSteps} used`;
}

/** `; restart (failure 1 of the run, ...); extra steps 20 of 60 used`, or '' for other policies' phase changes. */
export function decisionSuffix(decision: RemedyDecision | undefined): string {
  if (decision === undefined) return '';
  const budget = budgetText(decision);
  return `; ${kindLabel(decision)} (${decision.why})${budget ? `; ${budget}` : ''}`;
}

/** `seed 42: auto-remedy escalate gave up in phase 2 (compute budget spent: ...); extra steps 50 of 60 used`. */
export function remedyGaveUpLine(seed: number, gaveUp: RemedyGaveUp): string {
  const decision = gaveUp.decision;
  const why = decision === undefined ? gaveUp.notice : decision.why;
  const budget = decision === undefined ? '' : budgetText(decision);
  return `seed ${seed}: auto-remedy escalate gave up in phase ${gaveUp.phaseIndex + 1} (${why})${budget ? `; ${budget}` : ''}`;
}

/** ` [switch method]` for a phase the escalating policy started, ` (gave up: ...)` where it stopped remedying. */
export function phaseDecisionTags(phase: RunPhase): string {
  const started = phase.startedBy === undefined ? '' : ` [${kindLabel(phase.startedBy)}]`;
  const gaveUp = phase.gaveUp === undefined ? '' : ` (gave up: ${phase.gaveUp.why})`;
  return `${started}${gaveUp}`;
}

/** True for a run auto-remedy acted on: more than one phase, or the escalating policy gave up on it. */
export function remedyActedOn(run: SeedRun): boolean {
  return run.phases.length > 1 || run.phases.some((phase) => phase.gaveUp !== undefined);
}

/** `auto-remedy budget: 40 of 60 extra steps used (plain run 120 steps)` from the job's latest decision; undefined without one. */
export function remedyBudgetLine(runs: readonly SeedRun[]): string | undefined {
  const budgets = runs.flatMap((run) => run.phases.flatMap((phase) => [phase.startedBy?.budget, phase.gaveUp?.budget]));
  const latest = budgets.reduce<RemedyDecision['budget']>(
    (newest, budget) => (budget !== undefined && (newest === undefined || budget.usedSteps > newest.usedSteps) ? budget : newest),
    undefined,
  );
  if (latest === undefined) return undefined;
  return `auto-remedy budget: ${latest.usedSteps} of ${latest.limitSteps} extra steps used (plain run ${latest.plainSteps} steps)`;
}
