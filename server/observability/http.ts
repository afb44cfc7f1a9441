// The Prometheus scrape endpoint on its own port: /metrics (text exposition) and /healthz.
// Separate from gRPC so a scraper needs no HTTP/2 and the metrics port can stay cluster-internal.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  /** 0 picks a free port (tests); the bound one is in the result. */
  readonly port: number;
  readonly host: string;
  readonly registry: Registry;
  /** What /healthz answers; live (200) unless told otherwise. */
  readonly healthy?: () => boolean;
}

export interface RunningMetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<RunningMetricsServer> {
  const server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      if (!response.headersSent) respond(response, 500, 'text/plain; charset=utf-8', `metrics failed: ${messageOf(error)}\n`);
      else response.destroy();
    });
  });
  // A scraper keeps its connection open between scrapes; close() must not wait for it.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    port,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

async function handle(options: MetricsServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://metrics').pathname;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    respond(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    const { registry } = options;
    respond(response, 200, registry.contentType, await registry.metrics(), request.method === 'HEAD');
    return;
  }
  if (path === '/healthz') {
    const healthy = options.healthy?.() ?? true;
    respond(response, healthy ? 200 : 503, 'text/plain; charset=utf-8', healthy ? 'ok\n' : 'unhealthy\n');
    return;
  }
  respond(response, 404, 'text/plain; charset=utf-8', 'not found: try /metrics or /healthz\n');
}

function respond(response: ServerResponse, code: number, contentType: string, body: string, headOnly = false): void {
  response.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  response.end(headOnly ? undefined : body);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
