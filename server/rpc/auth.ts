// Bearer-token authentication: `authorization: Bearer <token>` → the token's tenant.
//
// Tokens are configured as sha256 digests, never in the clear. A plain hash (not scrypt or
// argon2) is the right tool here: tokens are long random secrets (see scripts/hash-token.ts),
// so there is nothing to brute-force that a slow hash would protect, while a slow hash would
// cost every RPC tens of milliseconds of CPU and hand unauthenticated callers a cheap way to
// burn it. The digest of the presented token is compared with every configured digest in
// constant time, so response time says nothing about how close a guess was.
import { createHash, timingSafeEqual } from 'node:crypto';
import { ServerInterceptingCall, status as GrpcStatus, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from '../logger.js';

/** Everyone's tenant while no tokens are configured (authentication off). */
export const DEFAULT_TENANT = 'default';
export const UNAUTHENTICATED_MESSAGE = 'missing or invalid bearer token (metadata "authorization: Bearer <token>")';

export interface TenantToken {
  readonly tenant: string;
  /** Lower-case hex sha256 of the token. */
  readonly sha256: string;
}

/** A token longer than this is not one we issued; hashing it would only cost CPU. */
const MAX_TOKEN_LENGTH = 1024;
const BEARER = /^Bearer +([^\s]+) *$/i;

export function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class BearerTokenAuthenticator {
  private readonly digests: readonly { readonly tenant: string; readonly digest: Buffer }[];

  constructor(tokens: readonly TenantToken[]) {
    this.digests = tokens.map(({ tenant, sha256 }) => ({ tenant, digest: Buffer.from(sha256, 'hex') }));
  }

  /** Off when no tokens are configured: every call is then the default tenant. */
  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Every tenant a token can authenticate as ([default] when authentication is off). */
  tenants(): readonly string[] {
    return this.enabled ? [...new Set(this.digests.map((d) => d.tenant))] : [DEFAULT_TENANT];
  }

  /** The caller's tenant, or undefined when the call carries no valid token. */
  tenantOf(metadata: Metadata): string | undefined {
    if (!this.enabled) return DEFAULT_TENANT;
    const token = bearerToken(metadata);
    if (token === undefined) return undefined;
    const presented = createHash('sha256').update(token, 'utf8').digest();
    let tenant: string | undefined;
    // No early exit: every digest is compared whichever one matches.
    for (const candidate of this.digests) {
      if (timingSafeEqual(presented, candidate.digest) && tenant === undefined) tenant = candidate.tenant;
    }
    return tenant;
  }
}

function bearerToken(metadata: Metadata): string | undefined {
  const values = metadata.get('authorization');
  // Two authorization headers are ambiguous: refuse rather than pick one.
  if (values.length !== 1) return undefined;
  const value = values[0];
  if (typeof value !== 'string' || value.length > MAX_TOKEN_LENGTH + 'Bearer '.length) return undefined;
  return BEARER.exec(value)?.[1];
}

export interface AuthenticationOptions {
  /** Fully qualified services that need a token; others (health, reflection) stay open for probes. */
  readonly protectedServices: readonly string[];
  readonly logger: Logger;
}

/**
 * Answers UNAUTHENTICATED as soon as the headers arrive, before the request is read or decoded,
 * so calls without a valid token cost next to nothing. Handlers resolve the tenant again
 * (tenantOf), so a handler reached without this interceptor still cannot act as anyone.
 */
export function authenticationInterceptor(
  authenticator: BearerTokenAuthenticator,
  { protectedServices, logger }: AuthenticationOptions,
): ServerInterceptor {
  const prefixes = protectedServices.map((service) => `/${service}/`);
  return (method, call) => {
    if (!authenticator.enabled || !prefixes.some((prefix) => method.path.startsWith(prefix))) {
      return new ServerInterceptingCall(call);
    }
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, forward) => {
            if (authenticator.tenantOf(metadata) !== undefined) return forward(metadata);
            logger.debug('unauthenticated call refused', { method: method.path, peer: call.getPeer() });
            call.sendStatus({ code: GrpcStatus.UNAUTHENTICATED, details: UNAUTHENTICATED_MESSAGE });
          },
        }),
    });
  };
}
