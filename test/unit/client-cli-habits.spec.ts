// What a command-line user expects of `steadytune`: help per command, --version, negative
// numbers as plain values, and a quick, clear failure when the server is down.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { parseCommandLine, UsageError } from '../../client/cli/args.js';
import { USAGE } from '../../client/cli/help.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, runCli } from '../../client/cli/run.js';
import { specFromFlags } from '../../client/cli/spec-flags.js';
import { downServerAddress, startFakeTrainer, type FakeTrainer } from '../fixtures/client-fake-trainer.js';

const openTrainers: FakeTrainer[] = [];
after(async () => {
  for (const trainer of openTrainers) await trainer.stop();
});

async function run(...argv: string[]) {
  const output = { stdout: '', stderr: '' };
  const io = { stdout: { write: (text: string) => (output.stdout += text) }, stderr: { write: (text: string) => (output.stderr += text) } };
  const code = await runCli(argv, {}, io);
  return { code, ...output };
}

describe('help and version', () => {
  it('--help on a command prints that command and the global flags, without calling the server', async () => {
    const trainer = await startFakeTrainer({});
    openTrainers.push(trainer);
    for (const argv of [
      ['start', '--help'],
      ['help', 'start'],
      ['start', '-h'],
    ]) {
      const result = await run('--server', trainer.address, ...argv);
      assert.equal(result.code, 0, argv.join(' '));
      assert.match(result.stdout, /^Usage: steadytune start/);
      assert.match(result.stdout, /--lambda X/);
      assert.match(result.stdout, /--connect-timeout-ms N/);
      assert.doesNotMatch(result.stdout, /datasets register/);
    }
    const datasets = await run('datasets', '--help');
    assert.match(datasets.stdout, /datasets upload --format F/);
    assert.doesNotMatch(datasets.stdout, /--lambda/);
    assert.equal(trainer.calls.startFineTune + trainer.calls.listDatasets, 0);
  });

  it('--help alone (and no command at all) prints every command', async () => {
    for (const argv of [['--help'], [], ['help']]) {
      const result = await run(...argv);
      assert.deepEqual([result.code, result.stdout], [0, USAGE], argv.join(' '));
    }
    for (const command of ['start', 'watch', 'jobs', 'get', 'cancel', 'eval', 'compare', 'report', 'datasets']) {
      assert.match(USAGE, new RegExp(`^  ${command} `, 'm'));
    }
  });

  it('help for an unknown command is a usage error', async () => {
    const result = await run('help', 'launch');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /help: expected one command name/);
  });

  it('--version prints the package version', async () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const argv of [['--version'], ['jobs', '--version']]) {
      const result = await run(...argv);
      assert.deepEqual([result.code, result.stdout], [0, `steadytune ${manifest.version}\n`], argv.join(' '));
    }
  });
});

describe('negative numbers', () => {
  it('takes a negative number after a flag as its value', () => {
    for (const value of ['-0.5', '-3', '-.25', '-1e-3']) {
      const { flags } = parseCommandLine(['start', '--method', 'dsgd', '--lambda', value, '--epochs', '1']);
      assert.equal(flags['lambda'], value);
      assert.equal(flags['epochs'], '1');
      const spec = specFromFlags(flags);
      assert.equal(spec.method?.method?.$case === 'dsgd' ? spec.method.method.value.lambda : undefined, Number(value));
    }
    assert.equal(parseCommandLine(['start', '--method', 'dsgd', '--lambda=-0.5']).flags['lambda'], '-0.5');
  });

  it('still refuses a dash word that is not a number, and range-checks counts', () => {
    assert.throws(() => parseCommandLine(['start', '--lambda', '-x']), UsageError);
    const { flags } = parseCommandLine(['start', '--seeds', '-1']);
    assert.throws(() => specFromFlags(flags), /--seeds: '-1' is not a whole number/);
  });

  it('sends a negative value to the server, which judges it', async () => {
    let lambda: number | undefined;
    const trainer = await startFakeTrainer({
      startFineTune: (call, callback) => {
        const method = call.request.spec?.method?.method;
        lambda = method?.$case === 'dsgd' ? method.value.lambda : undefined;
        callback({ code: 3, details: 'spec.method.dsgd.lambda: must be in [0, 1]' });
      },
    });
    openTrainers.push(trainer);
    const result = await run('--server', trainer.address, 'start', '--method', 'dsgd', '--lambda', '-0.5');
    assert.equal(lambda, -0.5);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /INVALID_ARGUMENT: spec\.method\.dsgd\.lambda/);
  });
});

describe('a server that is down', () => {
  // Asserting on the message rather than the clock: "within N ms" appears only when the
  // connect wait gave up, which is what bounds the command (the SDK's retries alone took
  // about 20 s). That the timeout is what sets the wait is checked against a second run in the
  // same test with a shorter one: two timings compared, no absolute bound a busy machine fails.
  it('fails a retried call after the connect timeout, naming the address and the cause', async () => {
    const address = await downServerAddress();
    const timed = async (...args: string[]) => {
      const started = Date.now();
      const result = await run('--server', address, ...args, 'jobs');
      return { result, elapsedMs: Date.now() - started };
    };
    const { result, elapsedMs } = await timed();
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    const expected = `error: UNAVAILABLE: cannot connect to ${address} within ${DEFAULT_CONNECT_TIMEOUT_MS} ms: `;
    assert.ok(result.stderr.startsWith(expected), result.stderr);
    assert.match(result.stderr, /ECONNREFUSED/);
    const shorter = await timed('--connect-timeout-ms', '300');
    assert.equal(shorter.result.code, 1);
    assert.ok(shorter.elapsedMs < elapsedMs, `300 ms timeout took ${shorter.elapsedMs} ms, the default ${elapsedMs} ms`);
  });

  it('honours --connect-timeout-ms, for streams too', async () => {
    const address = await downServerAddress();
    const result = await run('--server', address, '--connect-timeout-ms', '300', 'watch', 'job-1');
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^error: UNAVAILABLE: cannot connect to ${address} within 300 ms: .*ECONNREFUSED`));
  });

  it('fails start the same way: it always carries an idempotency key, so it is retried like the reads', async () => {
    const address = await downServerAddress();
    const result = await run('--server', address, '--connect-timeout-ms', '300', 'start', '--method', 'fft');
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^error: UNAVAILABLE: cannot connect to ${address} within 300 ms: .*ECONNREFUSED`));
  });
});
