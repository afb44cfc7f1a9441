// The dataset RPCs: register from the data root, upload by client stream, get, list. Thin:
// check the request, call the registry with the caller's tenant, map the answer.
import {
  status as GrpcStatus,
  type handleClientStreamingCall,
  type handleUnaryCall,
  type Metadata,
  type ServerReadableStream,
} from '@grpc/grpc-js';
import type {
  GetDatasetRequest,
  GetDatasetResponse,
  ListDatasetsRequest,
  ListDatasetsResponse,
  RegisterDatasetRequest,
  RegisterDatasetResponse,
  UploadDatasetRequest,
  UploadDatasetResponse,
} from '../../client/gen/steadytune/v1/dataset.js';
import { hasCode, ServiceError } from '../common/errors.js';
import type { DatasetRegistry, DatasetSource } from '../data/index.js';
import type { Logger } from '../logger.js';
import {
  datasetSource,
  filesFromPaths,
  REGISTER_FIELDS,
  renameFields,
  resolveFormat,
  resolveOptions,
  UPLOAD_FIELDS,
} from './dataset-requests.js';
import { datasetToWire } from './dataset-mapping.js';
import { checkDisplayName, readUpload } from './dataset-upload.js';
import { UNAUTHENTICATED_MESSAGE } from './auth.js';
import { clientEndReason, isPrematureClose, logClientEnded, settled } from './call-ended.js';
import { grpcError, toGrpcError, unavailable } from './errors.js';
import { FieldViolations } from './field-violations.js';

export interface DatasetHandlerOptions {
  readonly datasets?: DatasetRegistry;
  readonly maxUploadBytes: number;
  readonly maxLineBytes: number;
  readonly logger: Logger;
  readonly drainSignal: AbortSignal;
  readonly drainingMessage: string;
  readonly tenantOf: (metadata: Metadata) => string | undefined;
  /** The Trainer handlers' wrapper: drain and tenant checks, errors mapped. */
  readonly unary: <Request, Response>(work: (request: Request, tenant: string) => Promise<Response>) => handleUnaryCall<Request, Response>;
}

export interface DatasetHandlers {
  registerDataset: handleUnaryCall<RegisterDatasetRequest, RegisterDatasetResponse>;
  uploadDataset: handleClientStreamingCall<UploadDatasetRequest, UploadDatasetResponse>;
  getDataset: handleUnaryCall<GetDatasetRequest, GetDatasetResponse>;
  listDatasets: handleUnaryCall<ListDatasetsRequest, ListDatasetsResponse>;
}

const DATASET_ID = /^ds_[0-9a-f]{32}$/;
/** What a client that cut its own upload would see (if it still listened). */
const UPLOAD_CUT_MESSAGE = 'the upload stream ended without its end (cancelled or disconnected); nothing was registered';

export function createDatasetHandlers(options: DatasetHandlerOptions): DatasetHandlers {
  const { unary, logger } = options;
  const registry = (): DatasetRegistry => {
    if (options.datasets === undefined) throw new ServiceError('FAILED_PRECONDITION', 'this server has no dataset registry');
    return options.datasets;
  };
  /** Registers, reporting violations under the request's own field names. */
  const register = async (tenant: string, source: DatasetSource, displayName: string, rules: ReadonlyArray<[RegExp, string]>) => {
    try {
      const registered = await registry().register(tenant, source, { displayName });
      return { dataset: datasetToWire(registered), created: registered.created };
    } catch (error) {
      if (!hasCode(error, 'INVALID_ARGUMENT')) throw error;
      throw ServiceError.invalidArgument(error.message, renameFields(error.violations, rules));
    }
  };
  /** The upload's registration; undefined when the client ended the stream (nothing is registered). */
  const receiveUpload = async (
    call: ServerReadableStream<UploadDatasetRequest, UploadDatasetResponse>,
    tenant: string,
  ): Promise<UploadDatasetResponse | undefined> => {
    const read = await readUpload(call, { maxBytes: options.maxUploadBytes, maxLineBytes: options.maxLineBytes }).then(
      (upload) => ({ upload }),
      (error: unknown) => ({ error }),
    );
    // A stream cut off by the client may read as complete: its files would be truncated.
    await settled();
    const cut = 'error' in read && isPrematureClose(read.error) ? 'the request stream closed before its end' : undefined;
    const reason = clientEndReason(call) ?? cut;
    if (reason !== undefined) {
      logClientEnded(logger, 'UploadDataset', reason);
      return undefined;
    }
    if ('error' in read) throw read.error;
    return register(tenant, read.upload.source, read.upload.displayName, UPLOAD_FIELDS);
  };
  return {
    registerDataset: unary(async (request: RegisterDatasetRequest, tenant) => {
      const v = new FieldViolations();
      const format = resolveFormat(v, request.format, 'format');
      if (request.train === undefined) v.add('train', 'required');
      const train = filesFromPaths(v, format, request.train ?? { path: '', imagesPath: '', labelsPath: '' }, 'train');
      const validation = request.validation && filesFromPaths(v, format, request.validation, 'validation');
      const test = request.test && filesFromPaths(v, format, request.test, 'test');
      const resolved = resolveOptions(v, format, request.options, 'options');
      checkDisplayName(v, request.displayName, 'display_name');
      v.throwIfAny('RegisterDatasetRequest');
      if (format === undefined) throw new Error('unreachable: a missing format is a violation');
      const splits = { train, ...(validation === undefined ? {} : { validation }), ...(test === undefined ? {} : { test }) };
      return register(tenant, datasetSource(format, splits, resolved), request.displayName, REGISTER_FIELDS);
    }),
    uploadDataset: (call, callback) => {
      if (options.drainSignal.aborted) return callback(unavailable(options.drainingMessage));
      const tenant = options.tenantOf(call.metadata);
      if (tenant === undefined) return callback(grpcError(GrpcStatus.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE));
      receiveUpload(call, tenant).then(
        (response) => callback(response === undefined ? grpcError(GrpcStatus.CANCELLED, UPLOAD_CUT_MESSAGE) : null, response),
        (error: unknown) => callback(toGrpcError(error, logger)),
      );
    },
    getDataset: unary(async (request: GetDatasetRequest, tenant) => {
      checkDatasetId(request.datasetId);
      return { dataset: datasetToWire(await registry().get(tenant, request.datasetId)) };
    }),
    listDatasets: unary(async (request: ListDatasetsRequest, tenant) => {
      const v = new FieldViolations();
      const pageSize = v.integer('page_size', request.pageSize, 50, 1, 200);
      // The token is the next offset in base 36: opaque to clients, checked strictly here.
      const offset = request.pageToken === '' ? 0 : Number.parseInt(request.pageToken, 36);
      if (request.pageToken !== '' && !/^[0-9a-z]{1,10}$/.test(request.pageToken))
        v.add('page_token', 'is not a token this service issued');
      v.throwIfAny('ListDatasetsRequest');
      const all = await registry().list(tenant);
      const page = all.slice(offset, offset + pageSize);
      const next = offset + pageSize < all.length ? (offset + pageSize).toString(36) : '';
      return { datasets: page.map(datasetToWire), nextPageToken: next };
    }),
  };
}

function checkDatasetId(datasetId: string): void {
  const v = new FieldViolations();
  if (datasetId === '') v.add('dataset_id', 'required');
  else if (!DATASET_ID.test(datasetId)) v.add('dataset_id', `must match ${DATASET_ID.source}`);
  v.throwIfAny('GetDatasetRequest');
}
