import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { DEFAULT_RPC_LIMITS } from '../../server/rpc/limits.js';

describe('configuration from the environment', () => {
  it('uses the documented defaults', () => {
    const { api, durability, dataLimits, ...core } = loadConfig({}, '/srv');
    assert.deepEqual(api, { tokens: [], limits: DEFAULT_RPC_LIMITS });
    assert.deepEqual(dataLimits, { maxLineBytes: 1024 * 1024, maxTextChars: 10_000 });
    assert.deepEqual(durability, { store: 'sqlite', checkpointEverySteps: 50, checkpointsKept: 2 });
    assert.deepEqual(core, {
      port: 50051,
      host: '0.0.0.0',
      dataDir: '/srv/.data',
      concurrency: 2,
      backend: 'auto',
      logLevel: 'info',
      metricsPort: 9464,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig(
      {
        STEADYTUNE_PORT: '0',
        STEADYTUNE_HOST: '127.0.0.1',
        STEADYTUNE_DATA_DIR: '/var/lib/steadytune',
        STEADYTUNE_CONCURRENCY: '4',
        STEADYTUNE_BACKEND: 'WASM',
        STEADYTUNE_LOG_LEVEL: 'debug',
        STEADYTUNE_METRICS_PORT: '0',
        STEADYTUNE_MAX_LINE_BYTES: '65536',
        STEADYTUNE_MAX_TEXT_CHARS: '500',
      },
      '/srv',
    );
    const { api: _api, durability: _durability, dataLimits, ...core } = config;
    assert.deepEqual(dataLimits, { maxLineBytes: 65536, maxTextChars: 500 });
    assert.deepEqual(core, {
      port: 0,
      host: '127.0.0.1',
      dataDir: '/var/lib/steadytune',
      concurrency: 4,
      backend: 'wasm',
      logLevel: 'debug',
      metricsPort: 0,
    });
  });

  it('reads the persistence settings and refuses bad ones', () => {
    const { durability } = loadConfig(
      { STEADYTUNE_STORE: 'Memory', STEADYTUNE_CHECKPOINT_EVERY_STEPS: '0', STEADYTUNE_CHECKPOINTS_KEPT: '5' },
      '/srv',
    );
    assert.deepEqual(durability, { store: 'memory', checkpointEverySteps: 0, checkpointsKept: 5 });
    assert.throws(
      () => loadConfig({ STEADYTUNE_STORE: 'redis', STEADYTUNE_CHECKPOINTS_KEPT: '0' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /STEADYTUNE_STORE="redis": expected one of sqlite, memory/);
        assert.match(error.message, /STEADYTUNE_CHECKPOINTS_KEPT="0": expected an integer in 1\.\.100/);
        return true;
      },
    );
  });

  it('reports every invalid variable at once', () => {
    assert.throws(
      () =>
        loadConfig({ STEADYTUNE_PORT: '70000', STEADYTUNE_CONCURRENCY: '1.5', STEADYTUNE_BACKEND: 'gpu', STEADYTUNE_LOG_LEVEL: 'loud' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.problems.length, 4);
        assert.match(error.message, /STEADYTUNE_PORT="70000": expected an integer in 0\.\.65535/);
        return true;
      },
    );
  });
});

describe('JSON-lines logger', () => {
  it('writes time, level, msg and fields; drops lines below its level', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (line) => void lines.push(line) }).child({ component: 'rpc' });
    logger.debug('hidden');
    logger.info('listening', { port: 1, msg: 'cannot override' });
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(entry['msg'], 'listening');
    assert.equal(entry['level'], 'info');
    assert.equal(entry['component'], 'rpc');
    assert.equal(entry['port'], 1);
    assert.ok(!Number.isNaN(Date.parse(String(entry['time']))));
  });
});
