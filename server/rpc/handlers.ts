// The Trainer service's handlers: check the request, call the jobs layer, map the answer.
// No business logic lives here.
import { once } from 'node:events';
import type { Metadata, handleUnaryCall, sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { StreamMetricsRequest, StreamMetricsResponse, TrainerServer } from '../../client/gen/steadytune/v1/trainer.js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { DatasetRegistry } from '../data/index.js';
import type { JobService } from '../jobs/types.js';
import type { Logger } from '../logger.js';
import { UNAUTHENTICATED_MESSAGE } from './auth.js';
import { clientEndReason, logClientEnded } from './call-ended.js';
import { createDatasetHandlers } from './dataset-handlers.js';
import { checkEvaluateDataset, resolveRegisteredDatasets } from './dataset-checks.js';
import { grpcError, toGrpcError, unavailable } from './errors.js';
import { exportModel } from './export-model.js';
import type { JobAdmission } from './job-admission.js';
import { eventToWire, evaluationReportToWire, jobToWire, predictionToWire } from './mapping.js';
import { evaluateArguments, listJobsQuery, predictInputs, requireJobId, startJobCommand } from './requests.js';
import type { StreamSlots } from './stream-slots.js';

export interface TrainerHandlerOptions {
  readonly jobService: JobService;
  readonly logger: Logger;
  /** Aborted when the server drains: new calls get UNAVAILABLE. */
  readonly drainSignal: AbortSignal;
  /** Aborted when the server closes: open StreamMetrics calls end with UNAVAILABLE. */
  readonly closeSignal: AbortSignal;
  /** The caller's tenant from its metadata; undefined when it is not authenticated. */
  readonly tenantOf: (metadata: Metadata) => string | undefined;
  readonly admission: JobAdmission;
  readonly streamSlots: StreamSlots;
  readonly maxPredictExamples: number;
  /** Registered datasets (per tenant); without it only built-in datasets can be used. */
  readonly datasets?: DatasetRegistry;
  /** Largest UploadDataset stream, all chunks together. */
  readonly maxUploadBytes: number;
  /** Longest line of an uploaded JSONL or CSV file. */
  readonly maxLineBytes: number;
}

export const DRAINING_MESSAGE = 'server is shutting down; retry (streams: resume from the next sequence)';

export function createTrainerHandlers(options: TrainerHandlerOptions): TrainerServer {
  const { jobService, logger, drainSignal, tenantOf, admission, maxPredictExamples } = options;
  function unary<Request, Response>(work: (request: Request, tenant: string) => Promise<Response>): handleUnaryCall<Request, Response> {
    return (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>) => {
      if (drainSignal.aborted) return callback(unavailable(DRAINING_MESSAGE));
      // The authentication interceptor refused these already; this is the second lock.
      const tenant = tenantOf(call.metadata);
      if (tenant === undefined) return callback(unauthenticated());
      work(call.request, tenant).then(
        (response) => callback(null, response),
        (error: unknown) => callback(toGrpcError(error, logger)),
      );
    };
  }

  return {
    startFineTune: unary(async (request, tenant) => {
      const checked = startJobCommand(request, tenant);
      const command = { ...checked, spec: await resolveRegisteredDatasets(checked.spec, tenant, options.datasets) };
      const { job, created } = await admission.admit(command, () => jobService.start(command));
      return { job: jobToWire(job), created };
    }),
    getJob: unary(async (request, tenant) => ({
      job: jobToWire(await jobService.get(tenant, requireJobId(request.jobId, 'GetJobRequest'))),
    })),
    listJobs: unary(async (request, tenant) => {
      const { jobs, nextPageToken } = await jobService.list(listJobsQuery(request, tenant));
      return { jobs: jobs.map(jobToWire), nextPageToken };
    }),
    cancelJob: unary(async (request, tenant) => ({
      job: jobToWire(await jobService.cancel(tenant, requireJobId(request.jobId, 'CancelJobRequest'))),
    })),
    evaluate: unary(async (request, tenant) => {
      const { jobId, options: evaluation } = evaluateArguments(request);
      await checkEvaluateDataset(evaluation.dataset, tenant, options.datasets);
      return evaluationReportToWire(await jobService.evaluate(tenant, jobId, evaluation));
    }),
    predict: unary(async (request, tenant) => {
      const inputs = predictInputs(request, maxPredictExamples);
      const rows = await jobService.predict(tenant, request.jobId, request.seed, inputs);
      return { predictions: rows.map(predictionToWire) };
    }),
    streamMetrics: (call) => void streamMetrics(call, options),
    exportModel: (call) => void exportModel(call, { ...options, drainingMessage: DRAINING_MESSAGE, unauthenticated }),
    ...createDatasetHandlers({ ...options, drainingMessage: DRAINING_MESSAGE, unary }),
  };
}

/**
 * Replays then follows a job's events. Writes wait for 'drain' when the client reads slower
 * than the job produces; a cancelled call (client gone, deadline) stops the jobs iterator.
 */
async function streamMetrics(
  call: ServerWritableStream<StreamMetricsRequest, StreamMetricsResponse>,
  { jobService, logger, drainSignal, closeSignal, tenantOf, streamSlots }: TrainerHandlerOptions,
): Promise<void> {
  if (drainSignal.aborted) {
    call.emit('error', unavailable(DRAINING_MESSAGE));
    return;
  }
  const tenant = tenantOf(call.metadata);
  if (tenant === undefined) {
    call.emit('error', unauthenticated());
    return;
  }
  let releaseSlot = (): void => undefined;
  const stop = new AbortController();
  const stopStream = (): void => stop.abort();
  call.on('cancelled', stopStream);
  closeSignal.addEventListener('abort', stopStream);
  try {
    const jobId = requireJobId(call.request.jobId, 'StreamMetricsRequest');
    releaseSlot = streamSlots.acquire(tenant, jobId);
    const events = jobService.events(tenant, jobId, call.request.fromSequence, stop.signal);
    for await (const event of events) {
      if (stop.signal.aborted) break;
      if (!call.write(eventToWire(event))) await writable(call, stop.signal);
    }
    if (endedByClient(call, logger)) return;
    // A stream cut by close is not finished: UNAVAILABLE tells the client to resume elsewhere.
    if (closeSignal.aborted) call.emit('error', unavailable(DRAINING_MESSAGE));
    else call.end();
  } catch (error) {
    if (endedByClient(call, logger)) return;
    const status = closeSignal.aborted ? unavailable(DRAINING_MESSAGE) : toGrpcError(error, logger);
    call.emit('error', status);
  } finally {
    releaseSlot();
    call.off('cancelled', stopStream);
    closeSignal.removeEventListener('abort', stopStream);
    stop.abort();
  }
}

/** True (and logged at debug) when the client ended the stream: nobody waits for a status. */
function endedByClient(call: ServerWritableStream<StreamMetricsRequest, StreamMetricsResponse>, logger: Logger): boolean {
  const reason = clientEndReason(call);
  if (reason !== undefined) logClientEnded(logger, 'StreamMetrics', reason, { jobId: call.request.jobId });
  return reason !== undefined;
}

function unauthenticated() {
  return grpcError(GrpcStatus.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
}

/** Resolves once the call's buffer drained, or when the stream is stopped (the caller checks). */
async function writable(call: ServerWritableStream<StreamMetricsRequest, StreamMetricsResponse>, signal: AbortSignal) {
  try {
    await once(call, 'drain', { signal });
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
