// FineTuneSpec.auto_remedy (wire) → RemedySettings (domain), with spec.proto's defaults.
import { AutoRemedy_Policy, type AutoRemedy } from '../../client/gen/steadytune/v1/spec.js';
import { DEFAULT_REMEDY, type RemedyPolicy, type RemedySettings } from '../jobs/remedy-policy.js';
import type { FieldViolations } from './field-violations.js';

const POLICIES: ReadonlyMap<number, RemedyPolicy> = new Map([
  [AutoRemedy_Policy.POLICY_UNSPECIFIED, DEFAULT_REMEDY.policy],
  [AutoRemedy_Policy.POLICY_CONTINUE_UNDER_DSGD, 'continue_under_dsgd'],
  [AutoRemedy_Policy.POLICY_RESTART_NEXT_SEED, 'restart_next_seed'],
]);

/** Absent on the wire: no auto-remedy (it is opt-in). */
export function resolveAutoRemedy(v: FieldViolations, remedy: AutoRemedy | undefined, path: string): RemedySettings | undefined {
  if (remedy === undefined) return undefined;
  const minGradientNorm = remedy.minGradientNorm === 0 ? DEFAULT_REMEDY.minGradientNorm : remedy.minGradientNorm;
  return {
    policy: v.enumValue(`${path}.policy`, remedy.policy, POLICIES, 'AutoRemedy.Policy') ?? DEFAULT_REMEDY.policy,
    windowSteps: v.integer(`${path}.window_steps`, remedy.windowSteps, DEFAULT_REMEDY.windowSteps, 1, 100_000),
    minGradientNorm: v.real(`${path}.min_gradient_norm`, minGradientNorm, { min: 0, openMin: true }),
    maxRestarts: v.integer(`${path}.max_restarts`, remedy.maxRestarts, DEFAULT_REMEDY.maxRestarts, 1, 10),
  };
}
