// Token, TLS and limit settings from the environment, and the bearer-token authenticator.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Metadata } from '@grpc/grpc-js';
import { ConfigError, loadConfig } from '../../server/config.js';
import { BearerTokenAuthenticator, DEFAULT_TENANT, sha256Hex } from '../../server/rpc/auth.js';

const ACME_TOKEN = 'stt_acme-secret';
const GLOBEX_TOKEN = 'stt_globex-secret';

function problemsOf(env: NodeJS.ProcessEnv, cwd = '/srv'): readonly string[] {
  try {
    loadConfig(env, cwd);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

function withAuthorization(...values: string[]): Metadata {
  const metadata = new Metadata();
  for (const value of values) metadata.add('authorization', value);
  return metadata;
}

describe('token settings', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'steadytune-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads STEADYTUNE_TOKENS and a YAML tokens file together', async () => {
    await writeFile(path.join(dir, 'tokens.yaml'), `- tenant: globex\n  sha256: ${sha256Hex(GLOBEX_TOKEN).toUpperCase()}\n`);
    const { api } = loadConfig({ STEADYTUNE_TOKENS: ` acme:${sha256Hex(ACME_TOKEN)} ,`, STEADYTUNE_TOKENS_FILE: 'tokens.yaml' }, dir);
    assert.deepEqual(api?.tokens, [
      { tenant: 'acme', sha256: sha256Hex(ACME_TOKEN) },
      { tenant: 'globex', sha256: sha256Hex(GLOBEX_TOKEN) },
    ]);
  });

  it('reads a JSON tokens file', async () => {
    await writeFile(path.join(dir, 'tokens.json'), JSON.stringify([{ tenant: 'acme', sha256: sha256Hex(ACME_TOKEN) }]));
    const { api } = loadConfig({ STEADYTUNE_TOKENS_FILE: path.join(dir, 'tokens.json') }, '/');
    assert.deepEqual(api?.tokens, [{ tenant: 'acme', sha256: sha256Hex(ACME_TOKEN) }]);
  });

  it('fails closed: an empty token list is an error, not authentication off', async () => {
    await writeFile(path.join(dir, 'empty.yaml'), '[]\n');
    assert.equal(problemsOf({ STEADYTUNE_TOKENS: ' , ' }).length, 1);
    assert.match(problemsOf({ STEADYTUNE_TOKENS_FILE: 'empty.yaml' }, dir).join(), /lists no tokens/);
    assert.match(problemsOf({ STEADYTUNE_TOKENS_FILE: 'missing.yaml' }, dir).join(), /ENOENT/);
  });

  it('refuses raw tokens, bad tenants and one digest for two tenants, without echoing secrets', () => {
    const digest = sha256Hex(ACME_TOKEN);
    const entries = [`acme:${digest}`, `raw:${ACME_TOKEN}`, `bad tenant:${digest}`, `other:${digest}`, 'nocolon'];
    const problems = problemsOf({ STEADYTUNE_TOKENS: entries.join(',') });
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.ok(!problems.join().includes(ACME_TOKEN));
    assert.match(problems.join(), /one token digest is configured for tenants acme and other/);
  });
});

describe('TLS and limit settings', () => {
  it('needs certificate and key together, and both for a client CA', () => {
    assert.match(problemsOf({ STEADYTUNE_TLS_CERT: 'server.pem' }).join(), /must be set together/);
    assert.match(problemsOf({ STEADYTUNE_TLS_CLIENT_CA: 'ca.pem' }).join(), /needs STEADYTUNE_TLS_CERT/);
    assert.match(problemsOf({ STEADYTUNE_TLS_CERT: 'nope.pem', STEADYTUNE_TLS_KEY: 'nope.key' }, '/nonexistent').join(), /ENOENT/);
  });

  it('reads the limits, 0 meaning no limit', () => {
    const { api } = loadConfig({
      STEADYTUNE_MAX_MESSAGE_BYTES: '65536',
      STEADYTUNE_MAX_PREDICT_EXAMPLES: '8',
      STEADYTUNE_MAX_UPLOAD_BYTES: '4096',
      STEADYTUNE_MAX_LINE_BYTES: '2048',
      STEADYTUNE_MAX_ACTIVE_JOBS_PER_TENANT: '1',
      STEADYTUNE_MAX_ACTIVE_JOBS: '0',
      STEADYTUNE_MAX_STREAMS_PER_JOB: '2',
      STEADYTUNE_MAX_STREAMS: '3',
    });
    assert.deepEqual(api?.limits, {
      maxReceiveMessageBytes: 65536,
      maxPredictExamples: 8,
      maxUploadBytes: 4096,
      maxLineBytes: 2048,
      maxActiveJobsPerTenant: 1,
      maxActiveJobs: 0,
      maxStreamsPerJob: 2,
      maxStreams: 3,
    });
    assert.equal(problemsOf({ STEADYTUNE_MAX_MESSAGE_BYTES: '12', STEADYTUNE_MAX_PREDICT_EXAMPLES: '0' }).length, 2);
  });
});

describe('bearer-token authenticator', () => {
  const authenticator = new BearerTokenAuthenticator([
    { tenant: 'acme', sha256: sha256Hex(ACME_TOKEN) },
    { tenant: 'globex', sha256: sha256Hex(GLOBEX_TOKEN) },
  ]);

  it('maps each token to its tenant; the scheme is case-insensitive', () => {
    assert.equal(authenticator.tenantOf(withAuthorization(`Bearer ${ACME_TOKEN}`)), 'acme');
    assert.equal(authenticator.tenantOf(withAuthorization(`bearer ${GLOBEX_TOKEN}`)), 'globex');
    assert.deepEqual(authenticator.tenants(), ['acme', 'globex']);
  });

  it('refuses missing, unknown, malformed and duplicated credentials', () => {
    const refused = [
      withAuthorization(),
      withAuthorization(`Bearer ${ACME_TOKEN}x`),
      withAuthorization(ACME_TOKEN),
      withAuthorization(`Basic ${ACME_TOKEN}`),
      withAuthorization(`Bearer ${sha256Hex(ACME_TOKEN)}`),
      withAuthorization(`Bearer ${ACME_TOKEN}`, `Bearer ${GLOBEX_TOKEN}`),
      withAuthorization(`Bearer ${'x'.repeat(5000)}`),
    ];
    for (const metadata of refused) assert.equal(authenticator.tenantOf(metadata), undefined);
  });

  it('is off without tokens: everyone is the default tenant', () => {
    const open = new BearerTokenAuthenticator([]);
    assert.equal(open.enabled, false);
    assert.equal(open.tenantOf(withAuthorization()), DEFAULT_TENANT);
  });
});
