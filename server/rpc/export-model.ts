// ExportModel: streams the jobs layer's bundle chunks as they come, waiting for 'drain' when the
// client reads slower than the bundle is produced, so a large model is never buffered whole.
import { once } from 'node:events';
import type { Metadata, ServerErrorResponse, ServerWritableStream } from '@grpc/grpc-js';
import type { ExportModelRequest, ExportModelResponse } from '../../client/gen/steadytune/v1/trainer.js';
import type { JobService } from '../jobs/types.js';
import type { Logger } from '../logger.js';
import { toGrpcError, unavailable } from './errors.js';
import { requireJobId } from './requests.js';

export interface ExportModelOptions {
  readonly jobService: JobService;
  readonly logger: Logger;
  readonly drainSignal: AbortSignal;
  readonly closeSignal: AbortSignal;
  readonly tenantOf: (metadata: Metadata) => string | undefined;
  readonly drainingMessage: string;
  readonly unauthenticated: () => ServerErrorResponse;
}

export async function exportModel(
  call: ServerWritableStream<ExportModelRequest, ExportModelResponse>,
  { jobService, logger, drainSignal, closeSignal, tenantOf, drainingMessage, unauthenticated }: ExportModelOptions,
): Promise<void> {
  if (drainSignal.aborted) return void call.emit('error', unavailable(drainingMessage));
  const tenant = tenantOf(call.metadata);
  if (tenant === undefined) return void call.emit('error', unauthenticated());
  const stop = new AbortController();
  const stopStream = (): void => stop.abort();
  call.on('cancelled', stopStream);
  closeSignal.addEventListener('abort', stopStream);
  try {
    const jobId = requireJobId(call.request.jobId, 'ExportModelRequest');
    for await (const chunk of jobService.exportModel(tenant, jobId)) {
      if (stop.signal.aborted) break;
      if (!call.write({ path: chunk.path, offset: chunk.offset, data: Buffer.from(chunk.data), last: chunk.last })) {
        await once(call, 'drain', { signal: stop.signal }).catch(() => undefined);
      }
    }
    if (call.cancelled) return;
    // A bundle cut by close is incomplete: UNAVAILABLE tells the client to export again.
    if (closeSignal.aborted) call.emit('error', unavailable(drainingMessage));
    else call.end();
  } catch (error) {
    if (!call.cancelled) call.emit('error', closeSignal.aborted ? unavailable(drainingMessage) : toGrpcError(error, logger));
  } finally {
    call.off('cancelled', stopStream);
    closeSignal.removeEventListener('abort', stopStream);
  }
}
