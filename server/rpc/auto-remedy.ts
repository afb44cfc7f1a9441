// FineTuneSpec.auto_remedy (wire) → RemedySettings (domain), with spec.proto's defaults.
import { AutoRemedy_Policy, type AutoRemedy } from '../../client/gen/steadytune/v1/spec.js';
import {
  DEFAULT_ESCALATION,
  DEFAULT_REMEDY,
  type EscalationSettings,
  type RemedyPolicy,
  type RemedySettings,
} from '../jobs/remedy-policy.js';
import type { FieldViolations } from './field-violations.js';

const POLICIES: ReadonlyMap<number, RemedyPolicy> = new Map([
  [AutoRemedy_Policy.POLICY_UNSPECIFIED, DEFAULT_REMEDY.policy],
  [AutoRemedy_Policy.POLICY_CONTINUE_UNDER_DSGD, 'continue_under_dsgd'],
  [AutoRemedy_Policy.POLICY_RESTART_NEXT_SEED, 'restart_next_seed'],
  [AutoRemedy_Policy.POLICY_ESCALATE, 'escalate'],
]);

/** The most extra compute a job may ask for: ten times its plain run. */
const MAX_EXTRA_COMPUTE = 10;

/**
 * Absent on the wire: no auto-remedy (it is opt-in).
 * @param maxSeeds the most seeds a spec may list (bounds escalate_after_failed_seeds)
 */
export function resolveAutoRemedy(
  v: FieldViolations,
  remedy: AutoRemedy | undefined,
  path: string,
  maxSeeds: number,
): RemedySettings | undefined {
  if (remedy === undefined) return undefined;
  const minGradientNorm = remedy.minGradientNorm === 0 ? DEFAULT_REMEDY.minGradientNorm : remedy.minGradientNorm;
  const policy = v.enumValue(`${path}.policy`, remedy.policy, POLICIES, 'AutoRemedy.Policy') ?? DEFAULT_REMEDY.policy;
  const escalation = resolveEscalation(v, remedy, path, policy, maxSeeds);
  return {
    policy,
    windowSteps: v.integer(`${path}.window_steps`, remedy.windowSteps, DEFAULT_REMEDY.windowSteps, 1, 100_000),
    minGradientNorm: v.real(`${path}.min_gradient_norm`, minGradientNorm, { min: 0, openMin: true }),
    maxRestarts: v.integer(`${path}.max_restarts`, remedy.maxRestarts, DEFAULT_REMEDY.maxRestarts, 1, 10),
    ...(escalation === undefined ? {} : { escalation }),
  };
}

function resolveEscalation(
  v: FieldViolations,
  remedy: AutoRemedy,
  path: string,
  policy: RemedyPolicy,
  maxSeeds: number,
): EscalationSettings | undefined {
  if (policy !== 'escalate') {
    // Another policy would ignore them: a caller who set one meant to escalate.
    const fields = [
      ['max_extra_compute', remedy.maxExtraCompute],
      ['escalate_after_run_failures', remedy.escalateAfterRunFailures],
      ['escalate_after_failed_seeds', remedy.escalateAfterFailedSeeds],
    ] as const;
    for (const [field, value] of fields)
      if (value !== 0) v.add(`${path}.${field}`, 'only POLICY_ESCALATE uses it; leave it unset or set policy to POLICY_ESCALATE');
    return undefined;
  }
  const extra = remedy.maxExtraCompute;
  return {
    maxExtraCompute:
      extra === 0
        ? DEFAULT_ESCALATION.maxExtraCompute
        : v.real(`${path}.max_extra_compute`, extra, { min: 0, max: MAX_EXTRA_COMPUTE, openMin: true }),
    escalateAfterRunFailures: v.integer(
      `${path}.escalate_after_run_failures`,
      remedy.escalateAfterRunFailures,
      DEFAULT_ESCALATION.escalateAfterRunFailures,
      1,
      10,
    ),
    escalateAfterFailedSeeds: v.integer(
      `${path}.escalate_after_failed_seeds`,
      remedy.escalateAfterFailedSeeds,
      DEFAULT_ESCALATION.escalateAfterFailedSeeds,
      1,
      maxSeeds,
    ),
  };
}
