// Per-RPC request checks: wire request → the jobs layer's arguments, or INVALID_ARGUMENT
// naming every bad field. The spec itself is resolved by validation.ts.
import { FineTuneSpec } from '../../client/gen/steadytune/v1/spec.js';
import type { EvaluateRequest, ListJobsRequest, PredictRequest, StartFineTuneRequest } from '../../client/gen/steadytune/v1/trainer.js';
import type { DatasetSelection, JobState, ListJobsQuery, PredictInput, StartJobCommand } from '../jobs/types.js';
import { FieldViolations, mapEntryPath } from './field-violations.js';
import { JOB_STATES_FROM_WIRE } from './mapping.js';
import { datasetSelection } from './dataset-selection.js';
import { resolveSpec } from './validation.js';

const LABEL_KEY = /^[a-z0-9_.-]{1,63}$/;
const MAX_LABEL_VALUE = 256;
const MAX_LABELS = 64;
const MAX_TEXT = 256;
const MAX_JOB_ID = 128;
/** Default cap on examples per Predict call (config: STEADYTUNE_MAX_PREDICT_EXAMPLES). */
export const MAX_PREDICT_EXAMPLES = 1024;

export function startJobCommand(request: StartFineTuneRequest, tenant: string): StartJobCommand {
  const v = new FieldViolations();
  if (request.spec === undefined) v.add('spec', 'required');
  const spec = resolveSpec(v, request.spec ?? FineTuneSpec.create(), 'spec');
  checkText(v, 'idempotency_key', request.idempotencyKey);
  checkText(v, 'display_name', request.displayName);
  checkLabels(v, 'labels', request.labels);
  v.throwIfAny('StartFineTuneRequest');
  return {
    tenant,
    spec,
    // Canonical proto JSON: survives any store, and equal specs compare equal for idempotency.
    requestSpec: FineTuneSpec.toJSON(request.spec ?? FineTuneSpec.create()),
    idempotencyKey: request.idempotencyKey,
    displayName: request.displayName,
    labels: { ...request.labels },
  };
}

/** For GetJob, CancelJob and StreamMetrics, whose only input is the job id. */
export function requireJobId(jobId: string, what: string): string {
  const v = new FieldViolations();
  checkJobId(v, jobId);
  v.throwIfAny(what);
  return jobId;
}

export function listJobsQuery(request: ListJobsRequest, tenant: string): ListJobsQuery {
  const v = new FieldViolations();
  const pageSize = v.integer('page_size', request.pageSize, 50, 1, 200);
  const state: JobState | 'any' | undefined = v.enumValue('state', request.state, JOB_STATES_FROM_WIRE, 'JobState');
  checkLabels(v, 'label_selector', request.labelSelector);
  if (request.pageToken.length > 1024) v.add('page_token', 'is not a token this service issued');
  v.throwIfAny('ListJobsRequest');
  return {
    tenant,
    pageSize,
    pageToken: request.pageToken,
    ...(state === undefined || state === 'any' ? {} : { state }),
    labelSelector: { ...request.labelSelector },
  };
}

export interface EvaluateArguments {
  readonly jobId: string;
  readonly options: { dataset?: DatasetSelection; seed: number; ensemble: boolean };
}

export function evaluateArguments(request: EvaluateRequest): EvaluateArguments {
  const v = new FieldViolations();
  checkJobId(v, request.jobId);
  const dataset = request.dataset === undefined ? undefined : datasetSelection(v, request.dataset, 'dataset', 'validation');
  v.throwIfAny('EvaluateRequest');
  return {
    jobId: request.jobId,
    options: { ...(dataset === undefined ? {} : { dataset }), seed: request.seed, ensemble: request.ensemble },
  };
}

export function predictInputs(request: PredictRequest, maxExamples = MAX_PREDICT_EXAMPLES): PredictInput[] {
  const v = new FieldViolations();
  checkJobId(v, request.jobId);
  if (request.examples.length === 0) v.add('examples', 'at least one example is required');
  if (request.examples.length > maxExamples) v.add('examples', `at most ${maxExamples} per call`);
  request.examples.forEach((example, i) => {
    if (example.features.length === 0 && example.tokenIds.length === 0) {
      v.add(`examples[${i}]`, 'needs features or token_ids');
    }
    const bad = example.features.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) v.add(`examples[${i}].features[${bad}]`, 'must be finite');
    if (example.segmentIds.length > 0 && example.segmentIds.length !== example.tokenIds.length) {
      v.add(`examples[${i}].segment_ids`, 'must be empty or as long as token_ids');
    }
  });
  v.throwIfAny('PredictRequest');
  return request.examples.map((example) => ({
    features: example.features,
    tokenIds: example.tokenIds,
    segmentIds: example.segmentIds,
  }));
}

function checkJobId(v: FieldViolations, jobId: string): void {
  if (jobId === '') v.add('job_id', 'required');
  else if (jobId.length > MAX_JOB_ID) v.add('job_id', `at most ${MAX_JOB_ID} characters`);
}

function checkText(v: FieldViolations, field: string, text: string): void {
  if (text.length > MAX_TEXT) v.add(field, `at most ${MAX_TEXT} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters break logs and terminals
  if (/[\u0000-\u001f\u007f]/.test(text)) v.add(field, 'must not contain control characters');
}

function checkLabels(v: FieldViolations, field: string, labels: Readonly<Record<string, string>>): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) v.add(field, `at most ${MAX_LABELS} labels`);
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key)) v.add(mapEntryPath(field, key), `key must match ${LABEL_KEY.source}`);
    if (value.length > MAX_LABEL_VALUE) v.add(mapEntryPath(field, key), `value longer than ${MAX_LABEL_VALUE} characters`);
  }
}
