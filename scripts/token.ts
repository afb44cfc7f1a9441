// Makes API tokens and the digests the server is configured with (it never stores tokens).
//
//   npm run -s token -- new acme          a fresh token for tenant acme, and its config entry
//   printf %s "$TOKEN" | npm run -s token -- hash acme     the config entry of an existing token
//
// The token is read from stdin, not argv, so it stays out of shell history and `ps`.
import { randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { sha256Hex } from '../server/rpc/auth.js';

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** A recognisable prefix lets secret scanners find leaked tokens. */
const TOKEN_PREFIX = 'stt_';

const [command, tenant] = process.argv.slice(2);
if ((command !== 'new' && command !== 'hash') || tenant === undefined || !TENANT.test(tenant)) {
  process.stderr.write('usage: token.ts new <tenant>  |  printf %s "$TOKEN" | token.ts hash <tenant>\n');
  process.exit(2);
}

if (command === 'new') {
  // 256 bits: beyond guessing, which is why a fast hash is enough to store it.
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  process.stdout.write(`token (give to the client, shown once): ${token}\n`);
  printEntry(tenant, token);
} else {
  const token = (await text(process.stdin)).trim();
  if (token === '' || /\s/.test(token)) {
    process.stderr.write('hash: expected one token without spaces on stdin\n');
    process.exit(2);
  }
  printEntry(tenant, token);
}

function printEntry(tenantName: string, token: string): void {
  const digest = sha256Hex(token);
  process.stdout.write(`STEADYTUNE_TOKENS entry:      ${tenantName}:${digest}\n`);
  process.stdout.write(`STEADYTUNE_TOKENS_FILE entry: - { tenant: ${tenantName}, sha256: ${digest} }\n`);
}
