// The gRPC API's security and limit settings (documented in config.ts). Files named by the
// environment are read and checked here, at start-up, so a wrong path, a malformed PEM or a
// key that does not match its certificate fails the first start with a clear message.
import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { TenantToken } from './rpc/auth.js';
import { DEFAULT_RPC_LIMITS, type RpcLimits } from './rpc/limits.js';
import type { TlsSettings } from './rpc/transport-security.js';

export interface ApiConfig {
  /** Empty = authentication off. */
  readonly tokens: readonly TenantToken[];
  readonly tls?: TlsSettings;
  readonly limits: RpcLimits;
}

/** The part of config.ts's environment reader this module needs. */
export interface EnvReader {
  /** The trimmed value, or undefined when unset or empty. */
  optional(name: string): string | undefined;
  integer(name: string, fallback: number, min: number, max: number): number;
  problem(message: string): void;
}

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const MAX_LIMIT = 1_000_000;

export function loadApiConfig(env: EnvReader, cwd: string): ApiConfig {
  const tokens = loadTokens(env, cwd);
  const tls = loadTls(env, cwd);
  const d = DEFAULT_RPC_LIMITS;
  const limits: RpcLimits = {
    maxReceiveMessageBytes: env.integer('STEADYTUNE_MAX_MESSAGE_BYTES', d.maxReceiveMessageBytes, 1024, 1 << 30),
    maxPredictExamples: env.integer('STEADYTUNE_MAX_PREDICT_EXAMPLES', d.maxPredictExamples, 1, MAX_LIMIT),
    maxUploadBytes: env.integer('STEADYTUNE_MAX_UPLOAD_BYTES', d.maxUploadBytes, 1024, 1 << 30),
    maxLineBytes: env.integer('STEADYTUNE_MAX_LINE_BYTES', d.maxLineBytes, 1024, 1 << 30),
    maxActiveJobsPerTenant: env.integer('STEADYTUNE_MAX_ACTIVE_JOBS_PER_TENANT', d.maxActiveJobsPerTenant, 0, MAX_LIMIT),
    maxActiveJobs: env.integer('STEADYTUNE_MAX_ACTIVE_JOBS', d.maxActiveJobs, 0, MAX_LIMIT),
    maxStreamsPerJob: env.integer('STEADYTUNE_MAX_STREAMS_PER_JOB', d.maxStreamsPerJob, 0, MAX_LIMIT),
    maxStreams: env.integer('STEADYTUNE_MAX_STREAMS', d.maxStreams, 0, MAX_LIMIT),
  };
  return { tokens, ...(tls === undefined ? {} : { tls }), limits };
}

function loadTokens(env: EnvReader, cwd: string): TenantToken[] {
  const tokens: TenantToken[] = [];
  const inline = env.optional('STEADYTUNE_TOKENS');
  if (inline !== undefined) {
    const entries = inline
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    entries.forEach((entry, i) => {
      const colon = entry.lastIndexOf(':');
      const token = { tenant: entry.slice(0, colon), sha256: entry.slice(colon + 1) };
      if (colon < 0) env.problem(`STEADYTUNE_TOKENS entry ${i + 1}: expected tenant:sha256hex`);
      else tokens.push(...checkToken(env, `STEADYTUNE_TOKENS entry ${i + 1}`, token));
    });
    // Set but empty would silently turn authentication off: fail closed instead.
    if (entries.length === 0) env.problem('STEADYTUNE_TOKENS lists no tokens; unset it to run without authentication');
  }
  const file = env.optional('STEADYTUNE_TOKENS_FILE');
  if (file !== undefined) {
    const listed = readTokensFile(env, path.resolve(cwd, file));
    if (listed !== undefined && listed.length === 0) {
      env.problem('STEADYTUNE_TOKENS_FILE lists no tokens; unset it to run without authentication');
    }
    tokens.push(...(listed ?? []));
  }
  const tenantsByDigest = new Map<string, string>();
  for (const { tenant, sha256 } of tokens) {
    const other = tenantsByDigest.get(sha256);
    if (other !== undefined && other !== tenant) env.problem(`one token digest is configured for tenants ${other} and ${tenant}`);
    tenantsByDigest.set(sha256, tenant);
  }
  return tokens;
}

/** A YAML or JSON list of {tenant, sha256}; undefined when it cannot be read at all. */
function readTokensFile(env: EnvReader, file: string): TenantToken[] | undefined {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    env.problem(`STEADYTUNE_TOKENS_FILE=${JSON.stringify(file)}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
  if (!Array.isArray(parsed)) {
    env.problem(`STEADYTUNE_TOKENS_FILE=${JSON.stringify(file)}: expected a list of {tenant, sha256}`);
    return undefined;
  }
  return parsed.flatMap((entry: unknown, i) => {
    const where = `STEADYTUNE_TOKENS_FILE entry ${i + 1}`;
    if (typeof entry !== 'object' || entry === null) {
      env.problem(`${where}: expected {tenant, sha256}`);
      return [];
    }
    const { tenant, sha256 } = entry as Record<string, unknown>;
    return checkToken(env, where, { tenant, sha256 });
  });
}

function checkToken(env: EnvReader, where: string, token: { tenant: unknown; sha256: unknown }): TenantToken[] {
  const { tenant, sha256 } = token;
  let valid = true;
  if (typeof tenant !== 'string' || !TENANT.test(tenant)) {
    env.problem(`${where}: tenant must match ${TENANT.source}`);
    valid = false;
  }
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
    // Never echo the value: it might be a raw token pasted by mistake.
    env.problem(`${where}: sha256 must be 64 hex digits (npm run -s token -- hash <tenant>); the raw token does not belong here`);
    valid = false;
  }
  return valid ? [{ tenant: String(tenant), sha256: String(sha256).toLowerCase() }] : [];
}

function loadTls(env: EnvReader, cwd: string): TlsSettings | undefined {
  const certFile = env.optional('STEADYTUNE_TLS_CERT');
  const keyFile = env.optional('STEADYTUNE_TLS_KEY');
  const caFile = env.optional('STEADYTUNE_TLS_CLIENT_CA');
  if (certFile === undefined && keyFile === undefined) {
    if (caFile !== undefined) env.problem('STEADYTUNE_TLS_CLIENT_CA needs STEADYTUNE_TLS_CERT and STEADYTUNE_TLS_KEY');
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) {
    env.problem('STEADYTUNE_TLS_CERT and STEADYTUNE_TLS_KEY must be set together');
    return undefined;
  }
  const certChain = readPem(env, 'STEADYTUNE_TLS_CERT', path.resolve(cwd, certFile));
  const privateKey = readPem(env, 'STEADYTUNE_TLS_KEY', path.resolve(cwd, keyFile));
  const clientCa = caFile === undefined ? undefined : readPem(env, 'STEADYTUNE_TLS_CLIENT_CA', path.resolve(cwd, caFile));
  if (certChain === undefined || privateKey === undefined || (caFile !== undefined && clientCa === undefined)) return undefined;
  try {
    const certificate = new X509Certificate(certChain);
    if (!certificate.checkPrivateKey(createPrivateKey(privateKey))) {
      env.problem('STEADYTUNE_TLS_KEY is not the private key of STEADYTUNE_TLS_CERT');
    }
    if (clientCa !== undefined) void new X509Certificate(clientCa);
  } catch (error) {
    env.problem(`TLS files: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { certChain, privateKey, ...(clientCa === undefined ? {} : { clientCa }) };
}

function readPem(env: EnvReader, name: string, file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    env.problem(`${name}=${JSON.stringify(file)}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}
