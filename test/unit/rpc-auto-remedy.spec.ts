// FineTuneSpec.auto_remedy → RemedySettings (rpc/auto-remedy.ts), and phases back on the wire.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AutoRemedy_Policy, BuiltinName, BuiltinSplit, FineTuneSpec, RemedyDecision_Kind, Verdict } from '../../client/index.js';
import { ServiceError } from '../../server/common/errors.js';
import { DEFAULT_ESCALATION, DEFAULT_REMEDY, type EscalationDecision } from '../../server/jobs/remedy-policy.js';
import { eventToWire, phaseStartedToWire, seedRunToWire } from '../../server/rpc/mapping.js';
import { toJobSpec } from '../../server/rpc/validation.js';

const train = {
  source: { $case: 'builtin' as const, value: { name: BuiltinName.BUILTIN_NAME_MNIST, split: BuiltinSplit.BUILTIN_SPLIT_TRAIN } },
};

describe('auto-remedy in the spec', () => {
  it('is off unless the spec asks for it, and zero fields take the documented defaults', () => {
    assert.equal(toJobSpec(FineTuneSpec.fromPartial({ train })).autoRemedy, undefined);
    assert.deepEqual(toJobSpec(FineTuneSpec.fromPartial({ train, autoRemedy: {} })).autoRemedy, DEFAULT_REMEDY);
    assert.deepEqual(
      toJobSpec(
        FineTuneSpec.fromPartial({
          train,
          autoRemedy: { policy: AutoRemedy_Policy.POLICY_CONTINUE_UNDER_DSGD, windowSteps: 4, minGradientNorm: 0.02, maxRestarts: 2 },
        }),
      ).autoRemedy,
      { policy: 'continue_under_dsgd', windowSteps: 4, minGradientNorm: 0.02, maxRestarts: 2 },
    );
  });

  it('names every bad field', () => {
    try {
      toJobSpec(
        FineTuneSpec.fromPartial({
          train,
          autoRemedy: { policy: 7 as AutoRemedy_Policy, windowSteps: 200_000, minGradientNorm: -1, maxRestarts: 11 },
        }),
      );
      assert.fail('expected the spec to be rejected');
    } catch (error) {
      assert.ok(error instanceof ServiceError);
      assert.deepEqual(error.violations.map((v) => v.field).sort(), [
        'spec.auto_remedy.max_restarts',
        'spec.auto_remedy.min_gradient_norm',
        'spec.auto_remedy.policy',
        'spec.auto_remedy.window_steps',
      ]);
    }
  });

  it('resolves POLICY_ESCALATE with its limits, zero meaning the documented defaults', () => {
    const escalate = (fields: Partial<FineTuneSpec['autoRemedy']>) =>
      toJobSpec(FineTuneSpec.fromPartial({ train, autoRemedy: { policy: AutoRemedy_Policy.POLICY_ESCALATE, ...fields } })).autoRemedy;
    assert.deepEqual(escalate({}), { ...DEFAULT_REMEDY, policy: 'escalate', escalation: DEFAULT_ESCALATION });
    assert.deepEqual(escalate({ maxExtraCompute: 1.5, escalateAfterRunFailures: 1, escalateAfterFailedSeeds: 5 })?.escalation, {
      maxExtraCompute: 1.5,
      escalateAfterRunFailures: 1,
      escalateAfterFailedSeeds: 5,
    });
  });

  it('names each bad escalation field, and rejects them beside another policy', () => {
    const violations = (autoRemedy: FineTuneSpec['autoRemedy']): string[] => {
      try {
        toJobSpec(FineTuneSpec.fromPartial({ train, autoRemedy }));
      } catch (error) {
        assert.ok(error instanceof ServiceError);
        return error.violations.map((v) => `${v.field}: ${v.description}`).sort();
      }
      return [];
    };
    const escalate = { policy: AutoRemedy_Policy.POLICY_ESCALATE, windowSteps: 0, minGradientNorm: 0, maxRestarts: 0 };
    assert.deepEqual(violations({ ...escalate, maxExtraCompute: -0.5, escalateAfterRunFailures: 11, escalateAfterFailedSeeds: 33 }), [
      'spec.auto_remedy.escalate_after_failed_seeds: must be an integer in 1..32 (got 33)',
      'spec.auto_remedy.escalate_after_run_failures: must be an integer in 1..10 (got 11)',
      'spec.auto_remedy.max_extra_compute: must be in (0, 10] (got -0.5)',
    ]);
    assert.deepEqual(violations({ ...escalate, maxExtraCompute: 10.5, escalateAfterRunFailures: 0, escalateAfterFailedSeeds: 0 }), [
      'spec.auto_remedy.max_extra_compute: must be in (0, 10] (got 10.5)',
    ]);
    assert.deepEqual(
      violations({
        ...escalate,
        policy: AutoRemedy_Policy.POLICY_RESTART_NEXT_SEED,
        maxExtraCompute: 0.5,
        escalateAfterRunFailures: 2,
        escalateAfterFailedSeeds: 0,
      }),
      [
        'spec.auto_remedy.escalate_after_run_failures: only POLICY_ESCALATE uses it; leave it unset or set policy to POLICY_ESCALATE',
        'spec.auto_remedy.max_extra_compute: only POLICY_ESCALATE uses it; leave it unset or set policy to POLICY_ESCALATE',
      ],
    );
  });

  it("puts the escalating policy's decisions on the wire: phase events, give-ups and the run's phases", () => {
    const decision = (kind: EscalationDecision['kind'], usedSteps: number): EscalationDecision => ({
      kind,
      detector: 'collapse_watch',
      why: 'because',
      runFailures: 2,
      failedSeeds: 1,
      trainClassCounts: [191, 95],
      imbalanced: true,
      budget: { plainSteps: 120, limitSteps: 60, usedSteps, leftSteps: 60 - usedSteps },
    });
    const switched = decision('switch_method', 35);
    const ended = {
      seed: 1042,
      method: { kind: 'fft' as const },
      startStep: 0,
      endStep: 15,
      verdict: 'collapsed' as const,
      reason: 'collapsed at step 15',
    };
    const next = { seed: 2042, method: { kind: 'focal' as const, gamma: 2 }, startStep: 0, endStep: 0, reason: '', startedBy: switched };
    const wire = phaseStartedToWire({ index: 2, policy: 'escalate', ended, next, notice: 'auto-remedy: ...', decision: switched });
    assert.equal(wire.policy, AutoRemedy_Policy.POLICY_ESCALATE);
    const wireDecision = {
      kind: RemedyDecision_Kind.KIND_SWITCH_METHOD,
      detector: 'collapse_watch',
      why: 'because',
      runFailures: 2,
      failedSeeds: 1,
      trainClassCounts: [191, 95],
      imbalanced: true,
      budget: { plainSteps: 120, limitSteps: 60, usedSteps: 35, leftSteps: 25 },
    };
    assert.deepEqual(wire.decision, wireDecision);
    assert.deepEqual(wire.phase?.startedBy, wireDecision);
    assert.equal(wire.ended?.startedBy, undefined);
    const gaveUp = decision('give_up', 50);
    const event = eventToWire({
      sequence: 7,
      time: 0,
      seed: 42,
      body: { kind: 'remedy_gave_up', index: 1, decision: gaveUp, notice: 'gave up' },
    });
    assert.equal(event.event?.$case, 'remedyGaveUp');
    assert.deepEqual(
      event.event?.$case === 'remedyGaveUp' && [event.event.value.phaseIndex, event.event.value.decision?.kind, event.event.value.notice],
      [1, RemedyDecision_Kind.KIND_GIVE_UP, 'gave up'],
    );
    const run = seedRunToWire({
      seed: 42,
      state: 'SUCCEEDED',
      steps: 30,
      totalSteps: 30,
      meanStepSeconds: 0,
      durationMs: 0,
      phases: [ended, { ...next, endStep: 30, verdict: 'ok', gaveUp }],
    });
    assert.deepEqual(
      run.phases.map((p) => [p.startedBy?.kind, p.gaveUp?.kind]),
      [
        [undefined, undefined],
        [RemedyDecision_Kind.KIND_SWITCH_METHOD, RemedyDecision_Kind.KIND_GIVE_UP],
      ],
    );
  });

  it("puts a run's phases and peak memory on the wire", () => {
    const wire = seedRunToWire({
      seed: 42,
      state: 'SUCCEEDED',
      steps: 30,
      totalSteps: 30,
      meanStepSeconds: 0.01,
      durationMs: 1500,
      peakMemoryBytes: 4096,
      phases: [
        { seed: 42, method: { kind: 'fft' }, startStep: 0, endStep: 24, verdict: 'collapsed', reason: 'collapsed at step 24' },
        { seed: 42, method: { kind: 'dsgd', lambda: 1, schedule: 'cosine' }, startStep: 10, endStep: 30, verdict: 'ok', reason: '' },
      ],
    });
    assert.equal(wire.peakMemoryBytes, 4096);
    assert.deepEqual(
      wire.phases.map((p) => [p.seed, p.method?.method, p.startStep, p.endStep, p.verdict, p.reason]),
      [
        [42, { $case: 'fft', value: {} }, 0, 24, Verdict.VERDICT_COLLAPSED, 'collapsed at step 24'],
        [42, { $case: 'dsgd', value: { lambda: 1, schedule: 2 } }, 10, 30, Verdict.VERDICT_OK, ''],
      ],
    );
  });
});
