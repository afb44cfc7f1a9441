import { randomUUID } from 'node:crypto';
import {
  credentials as grpcCredentials,
  Metadata,
  status as GrpcStatus,
  type CallOptions as GrpcCallOptions,
  type ChannelCredentials,
  type ClientOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import type {
  Dataset,
  DatasetFiles,
  DatasetFormat,
  DatasetOptions,
  ListDatasetsResponse,
  RegisterDatasetResponse,
  UploadDatasetResponse,
} from '../gen/steadytune/v1/dataset.js';
import type { DatasetRef, FineTuneSpec } from '../gen/steadytune/v1/spec.js';
import {
  JobState,
  TrainerClient,
  type EvaluateResponse,
  type Example,
  type ExportModelResponse,
  type Job,
  type ListJobsRequest,
  type ListJobsResponse,
  type PredictResponse,
  type StartFineTuneResponse,
  type StreamMetricsResponse,
} from '../gen/steadytune/v1/trainer.js';
import { channelConnection } from './channel-connection.js';
import { SteadytuneError, toSteadytuneError } from './errors.js';
import { uploadOnce, type UploadDatasetInput } from './dataset-upload.js';
import { writeBundle, type ExportedBundle } from './model-export.js';
import { resumableMetricsStream, type StreamMetricsOptions } from './metrics-stream.js';
import { cancelledError, DEFAULT_RETRY, runWithRetry, type ChannelConnection, type RetryOptions } from './retry.js';

/** Longest wait between the channel's reconnect attempts (grpc-js defaults to 120 s). */
const MAX_RECONNECT_BACKOFF_MS = 5_000;

export interface SteadytuneClientOptions {
  /** Channel credentials; plaintext (insecure) when absent. */
  credentials?: ChannelCredentials;
  /** Sent on every call as `authorization: Bearer <token>`. */
  token?: string;
  /** Deadline for unary calls that set none themselves; no deadline when absent. */
  defaultDeadlineMs?: number;
  /**
   * Deadline of each attempt of a unary call that sets none itself: an attempt that runs past
   * it is retried (idempotent calls only, StartFineTune included) within the call's deadline.
   * No per-attempt limit when absent: an attempt may use the whole deadline, and a client-side
   * timeout is then final.
   */
  attemptTimeoutMs?: number;
  /**
   * How long calls wait for a channel that has never connected: a server that is down from
   * the start fails them within this time, with UNAVAILABLE naming the address and the
   * connection error, instead of using up `retry`. Once connected, reconnects follow `retry`.
   * No limit when absent.
   */
  connectTimeoutMs?: number;
  /** Backoff for idempotent calls and stream reconnects. */
  retry?: Partial<RetryOptions>;
  /** Passed through to the grpc-js channel (keepalive, message sizes, ...). */
  channelOptions?: Partial<ClientOptions>;
}

export interface RequestOptions {
  /** Deadline of the whole call, retries included. */
  deadlineMs?: number;
  /** Deadline of each attempt, below `deadlineMs` (see SteadytuneClientOptions.attemptTimeoutMs). */
  attemptTimeoutMs?: number;
  /** Aborting cancels the call; it then rejects with a CANCELLED SteadytuneError. */
  signal?: AbortSignal;
}

export interface StartFineTuneInput {
  spec: FineTuneSpec;
  /**
   * The server returns the original job for a repeated key (with the same spec), so a retry
   * never starts a second job. Absent (or empty): the client generates one (a random UUID) per
   * call, which its own retries reuse; pass your own to make your retries of the call safe too.
   */
  idempotencyKey?: string;
  displayName?: string;
  labels?: Record<string, string>;
}

export type ListJobsInput = Partial<ListJobsRequest>;

export interface EvaluateInput {
  jobId: string;
  /** Defaults to the job's validation dataset; any built-in or registered dataset (and split). */
  dataset?: DatasetRef;
  /** One seed's model; 0 or absent means every seed and the delivered model. */
  seed?: number;
  ensemble?: boolean;
}

export interface PredictInput {
  jobId: string;
  /** 0 or absent means the delivered model (StabilitySummary.delivery). */
  seed?: number;
  examples: Partial<Example>[];
}

export interface RegisterDatasetInput {
  format: DatasetFormat;
  /** Paths relative to the server's data root. */
  train: Partial<DatasetFiles>;
  validation?: Partial<DatasetFiles>;
  /** Only ever reported on (FineTuneSpec.test). */
  test?: Partial<DatasetFiles>;
  options?: Partial<DatasetOptions>;
  displayName?: string;
}

type UnaryMethod<Request, Response> = (
  request: Request,
  metadata: Metadata,
  options: Partial<GrpcCallOptions>,
  callback: (error: ServiceError | null, response: Response) => void,
) => ClientUnaryCall;

const TERMINAL_STATES: ReadonlySet<JobState> = new Set([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

export function isTerminalJobState(state: JobState): boolean {
  return TERMINAL_STATES.has(state);
}

/** Promise- and async-iterator-based client of steadytune.v1.Trainer. */
export class SteadytuneClient {
  private readonly trainer: TrainerClient;
  private readonly token: string | undefined;
  private readonly defaultDeadlineMs: number | undefined;
  private readonly attemptTimeoutMs: number | undefined;
  private readonly retry: RetryOptions;
  private readonly connection: ChannelConnection;

  constructor(address: string, options: SteadytuneClientOptions = {}) {
    this.trainer = new TrainerClient(
      address,
      options.credentials ?? grpcCredentials.createInsecure(),
      // grpc-js backs reconnects off up to 120 s: a server back after a long outage would stay
      // unreachable that long. Callers' options win.
      { 'grpc.max_reconnect_backoff_ms': MAX_RECONNECT_BACKOFF_MS, ...options.channelOptions },
    );
    this.token = options.token;
    this.defaultDeadlineMs = options.defaultDeadlineMs;
    this.attemptTimeoutMs = options.attemptTimeoutMs;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.connection = channelConnection(this.trainer, address, options.connectTimeoutMs);
  }

  close(): void {
    this.trainer.close();
  }

  /**
   * Retried on transient failures like the other idempotent calls: every attempt carries the
   * same idempotency key (the caller's or a generated one), so an attempt whose answer was lost
   * (a timeout after the server created the job) gets that job back instead of a second one.
   */
  startFineTune(input: StartFineTuneInput, options: RequestOptions = {}): Promise<StartFineTuneResponse> {
    const given = input.idempotencyKey ?? '';
    const request = {
      spec: input.spec,
      idempotencyKey: given === '' ? randomUUID() : given,
      displayName: input.displayName ?? '',
      labels: { ...input.labels },
    };
    return this.unary(this.trainer.startFineTune, request, true, options);
  }

  async getJob(jobId: string, options: RequestOptions = {}): Promise<Job> {
    const response = await this.unary(this.trainer.getJob, { jobId }, true, options);
    return requireJob(response.job, 'GetJob');
  }

  listJobs(input: ListJobsInput = {}, options: RequestOptions = {}): Promise<ListJobsResponse> {
    const request: ListJobsRequest = {
      pageSize: input.pageSize ?? 0,
      pageToken: input.pageToken ?? '',
      state: input.state ?? JobState.JOB_STATE_UNSPECIFIED,
      labelSelector: { ...input.labelSelector },
    };
    return this.unary(this.trainer.listJobs, request, true, options);
  }

  /** Every job matching the filter, following page tokens. */
  async *listAllJobs(input: Omit<ListJobsInput, 'pageToken'> = {}, options: RequestOptions = {}): AsyncGenerator<Job> {
    let pageToken = '';
    do {
      const page = await this.listJobs({ ...input, pageToken }, options);
      yield* page.jobs;
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
  }

  /** Safe to retry: a CANCELLING job is returned as it is; a finished job answers FAILED_PRECONDITION. */
  async cancelJob(jobId: string, options: RequestOptions = {}): Promise<Job> {
    const response = await this.unary(this.trainer.cancelJob, { jobId }, true, options);
    return requireJob(response.job, 'CancelJob');
  }

  evaluate(input: EvaluateInput, options: RequestOptions = {}): Promise<EvaluateResponse> {
    const request = { jobId: input.jobId, dataset: input.dataset, seed: input.seed ?? 0, ensemble: input.ensemble ?? false };
    return this.unary(this.trainer.evaluate, request, true, options);
  }

  predict(input: PredictInput, options: RequestOptions = {}): Promise<PredictResponse> {
    const examples = input.examples.map((example) => ({
      features: example.features ?? [],
      tokenIds: example.tokenIds ?? [],
      segmentIds: example.segmentIds ?? [],
    }));
    return this.unary(this.trainer.predict, { jobId: input.jobId, seed: input.seed ?? 0, examples }, true, options);
  }

  /** Content-addressed, so safe to retry: the same files register under the same id. */
  registerDataset(input: RegisterDatasetInput, options: RequestOptions = {}): Promise<RegisterDatasetResponse> {
    const files = (given: Partial<DatasetFiles>): DatasetFiles => ({ path: '', imagesPath: '', labelsPath: '', ...given });
    const request = {
      format: input.format,
      train: files(input.train),
      validation: input.validation === undefined ? undefined : files(input.validation),
      test: input.test === undefined ? undefined : files(input.test),
      options: { classNames: [], seqLen: 0, maxVocabSize: 0, minWordCount: 0, imageSize: 0, color: false, ...input.options },
      displayName: input.displayName ?? '',
    };
    return this.unary(this.trainer.registerDataset, request, true, options);
  }

  /** Streams the files in chunks; retried whole on transient failures (the result is content-addressed). */
  uploadDataset(input: UploadDatasetInput, options: RequestOptions = {}): Promise<UploadDatasetResponse> {
    const deadlineMs = options.deadlineMs ?? this.defaultDeadlineMs;
    const deadline = deadlineMs === undefined ? undefined : new Date(Date.now() + deadlineMs);
    const open = this.trainer.uploadDataset.bind(this.trainer);
    return runWithRetry({ idempotent: true, retry: this.retry, deadline, signal: options.signal, connection: this.connection }, () =>
      uploadOnce(open, this.callMetadata(), deadline, options.signal, input),
    );
  }

  async getDataset(datasetId: string, options: RequestOptions = {}): Promise<Dataset> {
    const response = await this.unary(this.trainer.getDataset, { datasetId }, true, options);
    if (response.dataset === undefined)
      throw new SteadytuneError({ code: GrpcStatus.INTERNAL, details: 'GetDataset response carried no dataset' });
    return response.dataset;
  }

  listDatasets(input: { pageSize?: number; pageToken?: string } = {}, options: RequestOptions = {}): Promise<ListDatasetsResponse> {
    return this.unary(this.trainer.listDatasets, { pageSize: input.pageSize ?? 0, pageToken: input.pageToken ?? '' }, true, options);
  }

  /**
   * Writes a SUCCEEDED job's model bundle (docs/MODEL-BUNDLE.md) into `dir`, checking every
   * file against the run card's sha256. Not retried: call it again to export again.
   */
  async exportModel(jobId: string, dir: string, options: RequestOptions = {}): Promise<ExportedBundle> {
    const deadlineMs = options.deadlineMs ?? this.defaultDeadlineMs;
    const { signal } = options;
    if (signal?.aborted) throw cancelledError('aborted by signal');
    const call = this.trainer.exportModel(
      { jobId },
      this.callMetadata(),
      deadlineMs === undefined ? {} : { deadline: new Date(Date.now() + deadlineMs) },
    );
    const cancelCall = (): void => call.cancel();
    signal?.addEventListener('abort', cancelCall, { once: true });
    try {
      return await writeBundle(untilStatus(call), dir);
    } catch (error) {
      throw signal?.aborted ? cancelledError('aborted by signal') : toSteadytuneError(error);
    } finally {
      signal?.removeEventListener('abort', cancelCall);
      call.cancel();
    }
  }

  /**
   * The job's events, replayed from `fromSequence` then followed live; reconnects transparently
   * and ends when the job is terminal. Breaking out of the loop cancels the call.
   */
  streamMetrics(jobId: string, options: StreamMetricsOptions = {}): AsyncGenerator<StreamMetricsResponse, void, undefined> {
    // No deadline: the stream lives as long as the job does.
    const open = (fromSequence: number) => this.trainer.streamMetrics({ jobId, fromSequence }, this.callMetadata(), {});
    return resumableMetricsStream(open, this.retry, options, this.connection);
  }

  /** Resolves with the job once it is terminal, following its stream from the newest event. */
  async waitForJob(jobId: string, options: { signal?: AbortSignal } = {}): Promise<Job> {
    const { signal } = options;
    const current = await this.getJob(jobId, { signal });
    if (isTerminalJobState(current.state)) return current;
    // The server ends the stream when the job is terminal; the events themselves are not needed.
    for await (const event of this.streamMetrics(jobId, { fromSequence: current.lastSequence + 1, signal })) void event;
    return this.getJob(jobId, { signal });
  }

  private unary<Request, Response>(
    method: UnaryMethod<Request, Response>,
    request: Request,
    idempotent: boolean,
    options: RequestOptions,
  ): Promise<Response> {
    const deadlineMs = options.deadlineMs ?? this.defaultDeadlineMs;
    const deadline = deadlineMs === undefined ? undefined : new Date(Date.now() + deadlineMs);
    const attemptTimeoutMs = options.attemptTimeoutMs ?? this.attemptTimeoutMs;
    const { signal } = options;
    const attempt = (): Promise<Response> =>
      new Promise<Response>((resolve, reject) => {
        if (signal?.aborted) {
          reject(cancelledError('aborted by signal'));
          return;
        }
        const attemptDeadline = earliest(deadline, attemptTimeoutMs === undefined ? undefined : new Date(Date.now() + attemptTimeoutMs));
        const cancelCall = (): void => call.cancel();
        const callOptions = attemptDeadline === undefined ? {} : { deadline: attemptDeadline };
        const call = method.call(this.trainer, request, this.callMetadata(), callOptions, (error, response) => {
          signal?.removeEventListener('abort', cancelCall);
          if (error) reject(toSteadytuneError(error));
          else resolve(response);
        });
        signal?.addEventListener('abort', cancelCall, { once: true });
      });
    return runWithRetry({ idempotent, retry: this.retry, deadline, signal, connection: this.connection }, attempt);
  }

  private callMetadata(): Metadata {
    const metadata = new Metadata();
    if (this.token !== undefined && this.token !== '') metadata.set('authorization', `Bearer ${this.token}`);
    return metadata;
  }
}

/**
 * The stream's messages, then its status: grpc-js ends the readable side before it emits a
 * failed status, so an iterator can see a clean end where the call failed; this rethrows it.
 * The listeners go on at once: the status may come before the consumer starts reading.
 */
function untilStatus(call: ClientReadableStream<ExportModelResponse>): AsyncGenerator<ExportModelResponse> {
  let failure: unknown;
  call.on('error', (error: unknown) => {
    failure = error;
  });
  const status = new Promise<void>((resolve) => call.once('status', () => resolve()));
  return (async function* () {
    for await (const message of call as AsyncIterable<ExportModelResponse>) yield message;
    await status;
    if (failure !== undefined) throw failure;
  })();
}

function earliest(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return a.getTime() <= b.getTime() ? a : b;
}

function requireJob(job: Job | undefined, rpc: string): Job {
  if (job === undefined) throw new SteadytuneError({ code: GrpcStatus.INTERNAL, details: `${rpc} response carried no job` });
  return job;
}
