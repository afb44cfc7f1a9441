// Starts the real service the way main() does, from environment variables (tokens, TLS,
// limits), on an ephemeral loopback port with a private data directory. Also: throwaway
// certificates from openssl, and SDK clients per tenant.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { SteadytuneClient, type RetryOptions } from '../../client/index.js';
import { loadConfig } from '../../server/config.js';
import { createLogger, silentLogger, type LogLevel, type Logger } from '../../server/logger.js';
import { startSteadytune, type RunningSteadytune } from '../../server/main.js';
import { sha256Hex } from '../../server/rpc/auth.js';

export interface ConfiguredServer {
  readonly address: string;
  readonly app: RunningSteadytune;
  /** An SDK client; `token` and `channel` default to none and plaintext. */
  client(options?: { token?: string; channel?: ChannelCredentials; retry?: Partial<RetryOptions> }): SteadytuneClient;
  stop(): Promise<void>;
}

/** `STEADYTUNE_TOKENS` for tenants named by their (test) tokens. */
export function tokensVariable(tokensByTenant: Readonly<Record<string, string>>): string {
  return Object.entries(tokensByTenant)
    .map(([tenant, token]) => `${tenant}:${sha256Hex(token)}`)
    .join(',');
}

/** `env` adds to (and may override) loopback, port 0, one worker and a temp data directory. */
export async function startConfiguredServer(
  env: Readonly<Record<string, string>>,
  options: { logger?: Logger } = {},
): Promise<ConfiguredServer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-sec-'));
  const config = loadConfig(
    {
      STEADYTUNE_PORT: '0',
      STEADYTUNE_HOST: '127.0.0.1',
      STEADYTUNE_METRICS_PORT: '0',
      STEADYTUNE_CONCURRENCY: '1',
      STEADYTUNE_DATA_DIR: dataDir,
      ...env,
    },
    dataDir,
  );
  const app = await startSteadytune(config, options.logger ?? testLogger());
  const address = `127.0.0.1:${app.port}`;
  const clients: SteadytuneClient[] = [];
  return {
    address,
    app,
    client({ token, channel, retry } = {}) {
      const client = new SteadytuneClient(address, {
        defaultDeadlineMs: 60_000,
        ...(token === undefined ? {} : { token }),
        ...(channel === undefined ? {} : { credentials: channel }),
        ...(retry === undefined ? {} : { retry }),
      });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.close();
      await app.stop(2_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** STEADYTUNE_TEST_LOG_LEVEL=debug shows the server's logs while debugging a test. */
export function testLogger(): Logger {
  const level = process.env['STEADYTUNE_TEST_LOG_LEVEL'] as LogLevel | undefined;
  return level === undefined ? silentLogger : createLogger({ level, write: (line) => void process.stderr.write(line) });
}

export interface Certificates {
  readonly dir: string;
  /** PEM files. */
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A client certificate from a CA the server does not trust. */
  readonly strangerCert: string;
  readonly strangerKey: string;
  /** Channel credentials trusting the test CA, optionally with a client certificate. */
  channel(identity?: 'client' | 'stranger'): Promise<ChannelCredentials>;
  remove(): Promise<void>;
}

/** A throwaway CA, a server certificate for 127.0.0.1/localhost and client certificates (P-256, one day). */
export async function makeCertificates(): Promise<Certificates> {
  const dir = await mkdtemp(path.join(tmpdir(), 'steadytune-tls-'));
  const file = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const selfSignedCa = (name: string): void =>
    openssl('req', '-x509', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-subj', `/CN=${name}`);
  const signed = async (name: string, ca: string, extensions: string): Promise<void> => {
    openssl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    await writeFile(file(`${name}.ext`), extensions);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-set_serial', String(Date.now()),
      '-days', '1', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
  };
  selfSignedCa('test-ca');
  selfSignedCa('stranger-ca');
  await signed('server', 'test-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await signed('client', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  await signed('stranger', 'stranger-ca', 'extendedKeyUsage=clientAuth\n');
  const certificates: Certificates = {
    dir,
    caCert: file('test-ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
    strangerCert: file('stranger.pem'),
    strangerKey: file('stranger.key'),
    async channel(identity) {
      const ca = await readFile(certificates.caCert);
      if (identity === undefined) return credentials.createSsl(ca);
      const [cert, key] = identity === 'client'
        ? [certificates.clientCert, certificates.clientKey]
        : [certificates.strangerCert, certificates.strangerKey];
      return credentials.createSsl(ca, await readFile(key), await readFile(cert));
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  return certificates;
}
