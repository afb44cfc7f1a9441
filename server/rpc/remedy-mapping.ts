// The escalating policy's decisions (jobs/remedy-policy.ts) → wire RemedyDecision. Pure.
import { RemedyDecision_Kind, type RemedyDecision } from '../../client/gen/steadytune/v1/trainer.js';
import type { EscalationDecision, EscalationKind } from '../jobs/remedy-policy.js';

const KINDS_TO_WIRE: Readonly<Record<EscalationKind, RemedyDecision_Kind>> = {
  restart: RemedyDecision_Kind.KIND_RESTART,
  switch_method: RemedyDecision_Kind.KIND_SWITCH_METHOD,
  give_up: RemedyDecision_Kind.KIND_GIVE_UP,
};

export function escalationDecisionToWire(decision: EscalationDecision): RemedyDecision {
  return {
    kind: KINDS_TO_WIRE[decision.kind],
    detector: decision.detector,
    why: decision.why,
    runFailures: decision.runFailures,
    failedSeeds: decision.failedSeeds,
    trainClassCounts: [...decision.trainClassCounts],
    imbalanced: decision.imbalanced,
    budget: { ...decision.budget },
  };
}

/** An optional decision as an optional wire message. */
export function optionalDecisionToWire(decision: EscalationDecision | undefined): RemedyDecision | undefined {
  return decision === undefined ? undefined : escalationDecisionToWire(decision);
}
