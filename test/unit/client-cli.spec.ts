// The `steadytune` command: flag grammar, spec building, and whole commands against a scripted
// fake Trainer (see client-fake-trainer.ts) through runCli, the same path main.ts takes.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  AlphaSchedule,
  AutoRemedy_Policy,
  BuiltinName,
  BuiltinSplit,
  GrpcStatus,
  ImbalanceKind,
  Job,
  JobState,
  RunState,
  Verdict,
  type StreamMetricsResponse,
} from '../../client/index.js';
import type { StartFineTuneRequest } from '../../client/gen/steadytune/v1/trainer.js';
import { parseCommandLine, parseSeeds, UsageError } from '../../client/cli/args.js';
import { runCli } from '../../client/cli/run.js';
import { parseSpecText, specFromFlags } from '../../client/cli/spec-flags.js';
import { richStatus, startFakeTrainer, type FakeTrainer } from '../fixtures/client-fake-trainer.js';

describe('command line grammar', () => {
  it('accepts global flags before and after the command', () => {
    const parsed = parseCommandLine(['--server', 'h:1', 'get', 'job-1', '--json']);
    assert.equal(parsed.command, 'get');
    assert.deepEqual(parsed.positionals, ['job-1']);
    assert.equal(parsed.flags['server'], 'h:1');
    assert.equal(parsed.flags['json'], true);
  });

  it('rejects flags of other commands and unknown commands', () => {
    assert.throws(() => parseCommandLine(['get', 'job-1', '--epochs', '3']), UsageError);
    assert.throws(() => parseCommandLine(['launch']), UsageError);
    assert.equal(parseCommandLine([]).command, 'help');
  });

  it('reads --seeds as a list or as a count of paper seeds', () => {
    assert.deepEqual(parseSeeds('3'), [42, 52, 62]);
    assert.deepEqual(parseSeeds('42,7'), [42, 7]);
    assert.deepEqual(parseSeeds('500'), [500]);
    assert.throws(() => parseSeeds('4,,2'), UsageError);
  });
});

describe('spec from flags and files', () => {
  it('maps every start flag onto the spec', () => {
    const { flags } = parseCommandLine(
      (
        'start --dataset fashion-mnist --classes 3,8 --imbalance long_tailed:100 --method dsgd --lambda 0.5 ' +
        '--schedule cosine --lr 0.01 --batch-size 16 --accumulation 2 --epochs 2 --seeds 2 --hidden 64 --ensemble'
      ).split(' '),
    );
    const spec = specFromFlags(flags);
    assert.deepEqual(spec.train, {
      source: { $case: 'builtin', value: { name: BuiltinName.BUILTIN_NAME_FASHION_MNIST, split: BuiltinSplit.BUILTIN_SPLIT_TRAIN } },
      classes: [3, 8],
      maxExamples: 0,
    });
    assert.deepEqual(spec.validation?.classes, [3, 8]);
    assert.deepEqual(spec.imbalance, { kind: ImbalanceKind.IMBALANCE_KIND_LONG_TAILED, ratio: 100, seed: 0 });
    assert.deepEqual(spec.method, { method: { $case: 'dsgd', value: { lambda: 0.5, schedule: AlphaSchedule.ALPHA_SCHEDULE_COSINE } } });
    assert.equal(spec.optimizer?.learningRate, 0.01);
    assert.deepEqual([spec.batchSize, spec.gradientAccumulation, spec.epochs], [16, 2, 2]);
    assert.deepEqual(spec.seeds, [42, 52]);
    assert.deepEqual(spec.model?.family, { $case: 'mlp', value: { hiddenUnits: [64], dropout: 0 } });
    assert.equal(spec.ensemble, true);
  });

  it('rejects method parameters that do not belong to the method', () => {
    assert.throws(() => specFromFlags(parseCommandLine(['start', '--method', 'focal', '--lambda', '1']).flags), /--lambda applies to dsgd/);
    assert.throws(() => specFromFlags(parseCommandLine(['start', '--epochs', 'three']).flags), UsageError);
  });

  it('reads YAML specs in proto JSON form and lets flags override them', () => {
    const yaml = [
      'batch_size: 8',
      'epochs: 4',
      'method:',
      '  focal:',
      '    gamma: 1.5',
      'train:',
      '  builtin: { name: BUILTIN_NAME_MNIST, split: BUILTIN_SPLIT_TRAIN }',
    ].join('\n');
    const fromFile = parseSpecText(yaml, 'spec.yaml');
    assert.equal(fromFile.batchSize, 8);
    assert.deepEqual(fromFile.method?.method, { $case: 'focal', value: { gamma: 1.5, classWeights: [] } });
    const merged = specFromFlags(parseCommandLine(['start', '--epochs', '1', '--gamma', '3']).flags, fromFile);
    assert.equal(merged.epochs, 1);
    assert.equal(merged.batchSize, 8);
    assert.deepEqual(merged.method?.method, { $case: 'focal', value: { gamma: 3, classWeights: [] } });
    assert.throws(() => parseSpecText('{"batchsize": 8}', 'spec.json'), /unknown FineTuneSpec field\(s\): batchsize/);
  });
});

const openTrainers: FakeTrainer[] = [];
after(async () => {
  for (const trainer of openTrainers) await trainer.stop();
});

async function cli(trainer: FakeTrainer, ...argv: string[]) {
  const output = { stdout: '', stderr: '' };
  const io = { stdout: { write: (text: string) => (output.stdout += text) }, stderr: { write: (text: string) => (output.stderr += text) } };
  const code = await runCli(['--server', trainer.address, ...argv], {}, io);
  return { code, ...output };
}

function finishedJob(state: JobState): Job {
  return Job.fromPartial({
    id: 'job-9',
    state,
    spec: { seeds: [42], epochs: 1 },
    runs: [{ seed: 42, state: RunState.RUN_STATE_SUCCEEDED, steps: 2, totalSteps: 2 }],
    summary: { runs: 1, accuracy: { mean: 0.9, std: 0, min: 0.9, max: 0.9 } },
  });
}

const jobLog: StreamMetricsResponse[] = [
  { sequence: 1, seed: 42, time: undefined, event: { $case: 'runStarted', value: { totalSteps: 2, backend: 'cpu' } } },
  { sequence: 2, seed: 42, time: undefined, event: { $case: 'epoch', value: { epoch: 0, step: 2, validation: undefined } } },
  { sequence: 3, seed: 0, time: undefined, event: { $case: 'stateChanged', value: { state: JobState.JOB_STATE_SUCCEEDED, reason: '' } } },
];

describe('commands against a fake trainer', () => {
  it('prints the job id, sending labels and the idempotency key', async () => {
    let received: StartFineTuneRequest | undefined;
    const trainer = await startFakeTrainer({
      startFineTune: (call, callback) => {
        received = call.request;
        callback(null, { job: Job.fromPartial({ id: 'job-9' }), created: true });
      },
    });
    openTrainers.push(trainer);
    const result = await cli(trainer, 'start', '--method', 'fft', '--label', 'team=nlp', '--idempotency-key', 'k1');
    assert.deepEqual([result.code, result.stdout], [0, 'job-9\n']);
    assert.deepEqual(received?.labels, { team: 'nlp' });
    assert.equal(received?.idempotencyKey, 'k1');
    assert.equal(received?.spec?.method?.method?.$case, 'fft');
  });

  it('exits 1 and prints code and field violations on INVALID_ARGUMENT', async () => {
    const violation = { field: 'spec.batch_size', description: 'must be 1..4096' };
    const trainer = await startFakeTrainer({
      startFineTune: (_call, callback) => callback(richStatus(GrpcStatus.INVALID_ARGUMENT, 'bad spec', { fieldViolations: [violation] })),
    });
    openTrainers.push(trainer);
    const result = await cli(trainer, 'start', '--batch-size', '0');
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'error: INVALID_ARGUMENT: bad spec\n  spec.batch_size: must be 1..4096\n');
  });

  it('exits 2 on usage errors without calling the server', async () => {
    const trainer = await startFakeTrainer({});
    openTrainers.push(trainer);
    const result = await cli(trainer, 'start', '--method', 'adam');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--method: 'adam' is not one of/);
    assert.equal(trainer.calls.startFineTune, 0);
  });

  for (const [state, expectedCode] of [
    [JobState.JOB_STATE_SUCCEEDED, 0],
    [JobState.JOB_STATE_FAILED, 3],
  ] as const) {
    it(`watch prints plain lines off a TTY and exits ${expectedCode} for ${JobState[state]}`, async () => {
      const trainer = await startFakeTrainer({
        getJob: (_call, callback) => callback(null, { job: finishedJob(state) }),
        streamMetrics: (call) => {
          for (const event of jobLog) call.write(event);
          call.end();
        },
      });
      openTrainers.push(trainer);
      const result = await cli(trainer, 'watch', 'job-9');
      assert.equal(result.code, expectedCode);
      assert.match(
        result.stdout,
        /^seed 42: started \(2 steps on cpu\)\nseed 42 epoch 1\/1 step 2: no validation metrics\njob succeeded\n/,
      );
      assert.match(result.stdout, /SEED +STATE +STEPS/);
      assert.match(result.stdout, /accuracy +0\.9000 ± 0\.0000/);
      assert.doesNotMatch(result.stdout, /\r/);
    });
  }

  it('watch shows a phase change from its event, not again from the notice restating it', async () => {
    const restated = 'auto-remedy: seed 42 phase 2 from step 0: collapsed at step 4; restarting under seed 1042 (remedy 1 of 3)';
    const fft = { method: { $case: 'fft' as const, value: {} } };
    const remedied: StreamMetricsResponse[] = [
      jobLog[0] as StreamMetricsResponse,
      {
        sequence: 2,
        seed: 42,
        time: undefined,
        event: {
          $case: 'phaseStarted',
          value: {
            phaseIndex: 1,
            phase: { seed: 1042, method: fft, startStep: 0, endStep: 0, verdict: Verdict.VERDICT_UNSPECIFIED, reason: '' },
            ended: { seed: 42, method: fft, startStep: 0, endStep: 4, verdict: Verdict.VERDICT_COLLAPSED, reason: 'collapsed at step 4' },
            policy: AutoRemedy_Policy.POLICY_RESTART_NEXT_SEED,
            notice: restated,
          },
        },
      },
      { sequence: 3, seed: 42, time: undefined, event: { $case: 'notice', value: { message: restated } } },
      { sequence: 4, seed: 42, time: undefined, event: { $case: 'notice', value: { message: 'auto-remedy: seed 42: gave up' } } },
      { ...(jobLog[2] as StreamMetricsResponse), sequence: 5 },
    ];
    const trainer = await startFakeTrainer({
      getJob: (_call, callback) => callback(null, { job: finishedJob(JobState.JOB_STATE_SUCCEEDED) }),
      streamMetrics: (call) => {
        for (const event of remedied) call.write(event);
        call.end();
      },
    });
    openTrainers.push(trainer);
    const result = await cli(trainer, 'watch', 'job-9');
    assert.match(
      result.stdout,
      new RegExp(
        '^seed 42: started \\(2 steps on cpu\\)\n' +
          'seed 42: auto-remedy restart_next_seed: phase 2 fft@1042 from step 0 after fft@42 steps 0-4 collapsed \\(collapsed at step 4\\)\n' +
          'notice: auto-remedy: seed 42: gave up\njob succeeded\n',
      ),
    );
  });

  it('lists jobs and points to the next page on stderr', async () => {
    const trainer = await startFakeTrainer({
      listJobs: (call, callback) =>
        callback(null, {
          jobs: [finishedJob(JobState.JOB_STATE_SUCCEEDED)],
          nextPageToken: call.request.state === JobState.JOB_STATE_SUCCEEDED ? 'p2' : '',
        }),
    });
    openTrainers.push(trainer);
    const result = await cli(trainer, 'jobs', '--state', 'succeeded');
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^ID +STATE/);
    assert.match(result.stdout, /job-9 +succeeded/);
    assert.equal(result.stderr, 'more: steadytune jobs --page-token p2\n');
  });

  it('get --json prints the job in proto JSON', async () => {
    const trainer = await startFakeTrainer({
      getJob: (_call, callback) => callback(null, { job: finishedJob(JobState.JOB_STATE_SUCCEEDED) }),
    });
    openTrainers.push(trainer);
    const result = await cli(trainer, 'get', 'job-9', '--json');
    const parsed = JSON.parse(result.stdout) as { id: string; state: string };
    assert.deepEqual([parsed.id, parsed.state], ['job-9', 'JOB_STATE_SUCCEEDED']);
  });
});
