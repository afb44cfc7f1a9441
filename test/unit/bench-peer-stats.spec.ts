// The PyTorch comparison's options and arithmetic (bench/peer/peer-stats.ts): which PyTorch
// configurations run, which is the peer, the turn order, and the ratios with their per-round
// spread. No timing here: every step time below is made up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fastestIndex,
  formatRatio,
  median,
  parsePeerArgs,
  roundOrder,
  roundRatios,
  spreadOf,
  throughputRatio,
  torchConfigs,
} from '../../bench/peer/peer-stats.js';

describe('bench:peer arguments', () => {
  it('defaults to both models on wasm, stock ops included, default rounds', () => {
    assert.deepEqual(parsePeerArgs([]), {
      quick: false,
      models: ['mlp', 'transformer'],
      backend: 'wasm',
      rounds: undefined,
      stock: true,
    });
  });

  it('reads every flag', () => {
    const options = parsePeerArgs(['--quick', '--models=transformer', '--backend=cpu', '--rounds=7', '--no-stock']);
    assert.deepEqual(options, { quick: true, models: ['transformer'], backend: 'cpu', rounds: 7, stock: false });
  });

  it('keeps the models in run order whatever order they are named in', () => {
    assert.deepEqual(parsePeerArgs(['--models=transformer,mlp']).models, ['mlp', 'transformer']);
  });

  it('rejects unknown flags, models and round counts instead of falling back to a default', () => {
    assert.throws(() => parsePeerArgs(['--model=mlp']), /unknown argument '--model=mlp'.*usage/);
    assert.throws(() => parsePeerArgs(['--models=mlp,cnn']), /--models takes .*'mlp,cnn'/);
    assert.throws(() => parsePeerArgs(['--models=']), /--models takes/);
    assert.throws(() => parsePeerArgs(['--rounds=0']), /--rounds takes a whole number/);
    assert.throws(() => parsePeerArgs(['--rounds=2.5']), /--rounds takes a whole number/);
    assert.throws(() => parsePeerArgs(['--backend=']), /unknown argument/);
  });
});

describe('PyTorch configurations', () => {
  it('PyTorch 1.13 on x86: the default loop and foreach, each with flush-denormal off and on', () => {
    const configs = torchConfigs({ fusedAdamw: false, flushDenormal: true });
    assert.deepEqual(
      configs.map((config) => [config.id, config.isDefault, config.foreach, config.fused, config.flushDenormal]),
      [
        ['default', true, false, false, false],
        ['default+flush', false, false, false, true],
        ['foreach', false, true, false, false],
        ['foreach+flush', false, true, false, true],
      ],
    );
    assert.equal(configs[3].label, 'PyTorch foreach AdamW, flush-denormal on');
  });

  it('adds fused AdamW where the build accepts it, and drops flush-denormal where the CPU lacks it', () => {
    const configs = torchConfigs({ fusedAdamw: true, flushDenormal: false });
    assert.deepEqual(
      configs.map((config) => config.id),
      ['default', 'foreach', 'fused'],
    );
    assert.deepEqual([configs[2].foreach, configs[2].fused], [false, true]);
  });

  it('exactly one default, and unique ids: torch_peer.py keys its runners by them', () => {
    const configs = torchConfigs({ fusedAdamw: true, flushDenormal: true });
    assert.equal(configs.filter((config) => config.isDefault).length, 1);
    const ids = configs.map((config) => config.id);
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('turns and ratios', () => {
  it('rotates the order each round so every contender runs first once per cycle', () => {
    assert.deepEqual(roundOrder(3, 0), [0, 1, 2]);
    assert.deepEqual(roundOrder(3, 1), [1, 2, 0]);
    assert.deepEqual(roundOrder(3, 5), [2, 0, 1]);
    const firsts = [0, 1, 2, 3].map((round) => roundOrder(4, round)[0]);
    assert.deepEqual(firsts, [0, 1, 2, 3]);
  });

  it('median of odd and even counts, NaN for none', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it('picks the candidate with the lowest median, not the lowest single step', () => {
    const lucky = [0.5, 9, 9, 9, 9];
    const steady = [2, 2, 2, 2, 2];
    assert.equal(fastestIndex([lucky, steady]), 1);
    assert.equal(fastestIndex([steady, [...steady]]), 0);
    assert.throws(() => fastestIndex([]), /no contender/);
  });

  it('throughput ratio is peer ms over our ms: above 1 means we are faster', () => {
    assert.equal(throughputRatio(2, 4), 0.5);
    assert.equal(throughputRatio(3, 2), 1.5);
  });

  it('per-round ratios come from each round median, and their spread brackets them', () => {
    const peer = [
      [1, 1, 9],
      [2, 2, 2],
      [1, 3, 2],
    ];
    const ours = [
      [2, 2, 2],
      [2, 8, 2],
      [4, 4, 1],
    ];
    const ratios = roundRatios(peer, ours);
    assert.deepEqual(ratios, [0.5, 1, 0.5]);
    assert.deepEqual(spreadOf(ratios), { min: 0.5, median: 0.5, max: 1 });
    assert.equal(formatRatio(0.6, spreadOf(ratios)), '0.60 (rounds 0.50–1.00)');
    assert.throws(() => roundRatios(peer, ours.slice(1)), /round counts differ/);
  });
});
