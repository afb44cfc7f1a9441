// FineTuneSpec.auto_remedy → RemedySettings (rpc/auto-remedy.ts), and phases back on the wire.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AutoRemedy_Policy, BuiltinName, BuiltinSplit, FineTuneSpec, Verdict } from '../../client/index.js';
import { ServiceError } from '../../server/common/errors.js';
import { DEFAULT_REMEDY } from '../../server/jobs/remedy-policy.js';
import { seedRunToWire } from '../../server/rpc/mapping.js';
import { toJobSpec } from '../../server/rpc/validation.js';

const train = { source: { $case: 'builtin' as const, value: { name: BuiltinName.BUILTIN_NAME_MNIST, split: BuiltinSplit.BUILTIN_SPLIT_TRAIN } } };

describe('auto-remedy in the spec', () => {
  it('is off unless the spec asks for it, and zero fields take the documented defaults', () => {
    assert.equal(toJobSpec(FineTuneSpec.fromPartial({ train })).autoRemedy, undefined);
    assert.deepEqual(toJobSpec(FineTuneSpec.fromPartial({ train, autoRemedy: {} })).autoRemedy, DEFAULT_REMEDY);
    assert.deepEqual(
      toJobSpec(FineTuneSpec.fromPartial({
        train, autoRemedy: { policy: AutoRemedy_Policy.POLICY_CONTINUE_UNDER_DSGD, windowSteps: 4, minGradientNorm: 0.02, maxRestarts: 2 },
      })).autoRemedy,
      { policy: 'continue_under_dsgd', windowSteps: 4, minGradientNorm: 0.02, maxRestarts: 2 },
    );
  });

  it('names every bad field', () => {
    try {
      toJobSpec(FineTuneSpec.fromPartial({ train, autoRemedy: { policy: 7 as AutoRemedy_Policy, windowSteps: 200_000, minGradientNorm: -1, maxRestarts: 11 } }));
      assert.fail('expected the spec to be rejected');
    } catch (error) {
      assert.ok(error instanceof ServiceError);
      assert.deepEqual(error.violations.map((v) => v.field).sort(), [
        'spec.auto_remedy.max_restarts', 'spec.auto_remedy.min_gradient_norm', 'spec.auto_remedy.policy', 'spec.auto_remedy.window_steps',
      ]);
    }
  });

  it("puts a run's phases and peak memory on the wire", () => {
    const wire = seedRunToWire({
      seed: 42, state: 'SUCCEEDED', steps: 30, totalSteps: 30, meanStepSeconds: 0.01, durationMs: 1500, peakMemoryBytes: 4096,
      phases: [
        { seed: 42, method: { kind: 'fft' }, startStep: 0, endStep: 24, verdict: 'collapsed', reason: 'collapsed at step 24' },
        { seed: 42, method: { kind: 'dsgd', lambda: 1, schedule: 'cosine' }, startStep: 10, endStep: 30, verdict: 'ok', reason: '' },
      ],
    });
    assert.equal(wire.peakMemoryBytes, 4096);
    assert.deepEqual(wire.phases.map((p) => [p.seed, p.method?.method, p.startStep, p.endStep, p.verdict, p.reason]), [
      [42, { $case: 'fft', value: {} }, 0, 24, Verdict.VERDICT_COLLAPSED, 'collapsed at step 24'],
      [42, { $case: 'dsgd', value: { lambda: 1, schedule: 2 } }, 10, 30, Verdict.VERDICT_OK, ''],
    ]);
  });
});
