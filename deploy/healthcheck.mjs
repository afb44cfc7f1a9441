// The image's HEALTHCHECK: one grpc.health.v1.Health/Check against this container's own
// server, plaintext, on 127.0.0.1:$STEADYTUNE_PORT (default 50051). Exit 0 only on SERVING;
// 1 on NOT_SERVING, an unknown service, no answer within the deadline, or a bad port.
//
//   node deploy/healthcheck.mjs [service]     '' (the default) = the whole server
//
// Plain JavaScript, not TypeScript: it runs every 30 s and must not pay for tsx's start-up.
// Kubernetes does not use it (its probes speak gRPC health natively); Docker and Compose do.
// It cannot probe a server with TLS on (STEADYTUNE_TLS_CERT): see deploy/README.md.
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { service as healthServiceDefinition } from 'grpc-health-check';

/** Below Docker's --timeout (5 s), so the probe reports its own reason instead of being killed. */
const DEADLINE_MS = 3_000;

function fail(message) {
  process.stderr.write(`healthcheck: ${message}\n`);
  process.exit(1);
}

const rawPort = (process.env.STEADYTUNE_PORT ?? '').trim() || '50051';
const port = Number(rawPort);
// Port 0 means "any free port": nothing outside the process knows which, so there is nothing to probe.
if (!/^\d+$/.test(rawPort) || port < 1 || port > 65535) fail(`STEADYTUNE_PORT=${JSON.stringify(rawPort)} is not a port to probe`);

const serviceName = process.argv[2] ?? '';
const HealthClient = makeGenericClientConstructor(healthServiceDefinition, 'Health');
const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());

client.Check({ service: serviceName }, { deadline: Date.now() + DEADLINE_MS }, (error, response) => {
  client.close();
  if (error) fail(`Check(${JSON.stringify(serviceName)}) on port ${port}: ${error.message}`);
  if (response?.status !== 'SERVING') fail(`Check(${JSON.stringify(serviceName)}) on port ${port}: ${response?.status ?? 'no status'}`);
  process.exit(0);
});
