// TLS and mutual TLS on the gRPC port, configured as in production (STEADYTUNE_TLS_* files),
// with a throwaway CA made by openssl at test time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { credentials, GrpcStatus, type SteadytuneClient } from '../../client/index.js';
import { ConfigError, loadConfig } from '../../server/config.js';
import {
  makeCertificates,
  startConfiguredServer,
  tokensVariable,
  type Certificates,
  type ConfiguredServer,
} from '../fixtures/configured-server.js';
import { rejection } from '../fixtures/server-harness.js';

const UNKNOWN_JOB = 'no-such-job';
/** No retries: a refused handshake should fail at once, not after the SDK's backoff. */
const ONE_TRY = { maxAttempts: 1 };

/** NOT_FOUND proves the call crossed the connection and reached the service. */
async function reachesService(client: SteadytuneClient): Promise<void> {
  const error = await rejection(client.getJob(UNKNOWN_JOB, { deadlineMs: 10_000 }));
  assert.equal(error.code, GrpcStatus.NOT_FOUND, error.message);
}

async function refusedConnection(client: SteadytuneClient): Promise<void> {
  const error = await rejection(client.getJob(UNKNOWN_JOB, { deadlineMs: 10_000 }));
  assert.equal(error.code, GrpcStatus.UNAVAILABLE, error.message);
}

describe('TLS', () => {
  let certificates: Certificates;
  before(async () => {
    certificates = await makeCertificates();
  });
  after(() => certificates.remove());

  describe('server certificate only', () => {
    let server: ConfiguredServer;
    before(async () => {
      server = await startConfiguredServer({
        STEADYTUNE_TLS_CERT: certificates.serverCert,
        STEADYTUNE_TLS_KEY: certificates.serverKey,
        STEADYTUNE_TOKENS: tokensVariable({ acme: 'stt_tls-token' }),
      });
    });
    after(() => server.stop());

    it('serves a client that trusts the CA, bearer token included', async () => {
      await reachesService(server.client({ channel: await certificates.channel(), token: 'stt_tls-token', retry: ONE_TRY }));
    });

    it('refuses a plaintext client', async () => {
      await refusedConnection(server.client({ token: 'stt_tls-token', retry: ONE_TRY }));
    });

    it('refuses a client that does not trust the server certificate', async () => {
      await refusedConnection(server.client({ channel: credentials.createSsl(), token: 'stt_tls-token', retry: ONE_TRY }));
    });
  });

  describe('mutual TLS', () => {
    let server: ConfiguredServer;
    before(async () => {
      server = await startConfiguredServer({
        STEADYTUNE_TLS_CERT: certificates.serverCert,
        STEADYTUNE_TLS_KEY: certificates.serverKey,
        STEADYTUNE_TLS_CLIENT_CA: certificates.caCert,
      });
    });
    after(() => server.stop());

    it('serves a client with a certificate from the client CA', async () => {
      await reachesService(server.client({ channel: await certificates.channel('client'), retry: ONE_TRY }));
    });

    it('refuses a client without a certificate', async () => {
      await refusedConnection(server.client({ channel: await certificates.channel(), retry: ONE_TRY }));
    });

    it('refuses a client whose certificate another CA signed', async () => {
      await refusedConnection(server.client({ channel: await certificates.channel('stranger'), retry: ONE_TRY }));
    });

    it('refuses a plaintext client', async () => {
      await refusedConnection(server.client({ retry: ONE_TRY }));
    });
  });

  it('fails start-up when the key does not belong to the certificate', async () => {
    assert.throws(
      () => loadConfig({ STEADYTUNE_TLS_CERT: certificates.serverCert, STEADYTUNE_TLS_KEY: certificates.clientKey }),
      (error: unknown) => error instanceof ConfigError && /not the private key/.test(error.message),
    );
  });
});
