// TLS for the gRPC port: server certificate, and with a client CA, mutual TLS (a client
// without a certificate signed by that CA cannot even open a connection).
import { ServerCredentials } from '@grpc/grpc-js';

export interface TlsSettings {
  /** PEM: the server certificate, then any intermediates. */
  readonly certChain: Buffer;
  /** PEM: the certificate's private key. */
  readonly privateKey: Buffer;
  /** PEM: CA(s) that sign client certificates; set = clients must present one (mTLS). */
  readonly clientCa?: Buffer;
}

export function serverCredentials(tls: TlsSettings | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  const identity = [{ cert_chain: tls.certChain, private_key: tls.privateKey }];
  return ServerCredentials.createSsl(tls.clientCa ?? null, identity, tls.clientCa !== undefined);
}
