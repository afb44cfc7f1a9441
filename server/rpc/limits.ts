// What one caller, and all of them together, may ask of the API at once. Configured from the
// environment (config.ts); these defaults hold when a setting is absent.
import { DEFAULT_DATA_LIMITS } from '../data/index.js';
import type { JobLimits } from './job-admission.js';
import { MAX_PREDICT_EXAMPLES } from './requests.js';
import type { StreamLimits } from './stream-slots.js';

export interface RpcLimits extends JobLimits, StreamLimits {
  /** Larger requests are refused by grpc-js with RESOURCE_EXHAUSTED before they are decoded. */
  readonly maxReceiveMessageBytes: number;
  /** More examples in one Predict call is INVALID_ARGUMENT: the caller must split the batch. */
  readonly maxPredictExamples: number;
  /** Bytes of one UploadDataset stream, all chunks together; more is INVALID_ARGUMENT. */
  readonly maxUploadBytes: number;
  /** Longest line of an uploaded JSONL or CSV file, checked as chunks arrive; the data layer's limit. */
  readonly maxLineBytes: number;
}

export const DEFAULT_RPC_LIMITS: RpcLimits = {
  // grpc-js's own default, stated so that it is visible and configurable.
  maxReceiveMessageBytes: 4 * 1024 * 1024,
  maxPredictExamples: MAX_PREDICT_EXAMPLES,
  // The data layer's default file limit: the decompressed fashion-mnist training images fit.
  maxUploadBytes: 64 * 1024 * 1024,
  maxLineBytes: DEFAULT_DATA_LIMITS.maxLineBytes,
  maxActiveJobsPerTenant: 16,
  maxActiveJobs: 64,
  maxStreamsPerJob: 16,
  maxStreams: 1024,
};
