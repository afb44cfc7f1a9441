import type { CallOptions, ClientWritableStream, Metadata, ServiceError } from '@grpc/grpc-js';
import type { DatasetFormat, DatasetOptions, UploadDatasetRequest, UploadDatasetResponse } from '../gen/steadytune/v1/dataset.js';
import { toSteadytuneError } from './errors.js';
import { cancelledError } from './retry.js';

export interface UploadDatasetInput {
  format: DatasetFormat;
  options?: Partial<DatasetOptions>;
  displayName?: string;
  /**
   * File name → bytes. jsonl, csv: "train", "validation", "test"; idx: "train/images",
   * "train/labels", "validation/...", "test/..."; image_folder: "train/<class>/<file>",
   * "validation/<class>/<file>", "test/<class>/<file>". Validation and test are optional.
   */
  files: Record<string, Uint8Array>;
  /** Bytes per chunk message; default 1 MiB (under the server's 4 MiB message cap). */
  chunkBytes?: number;
}

export const DEFAULT_UPLOAD_CHUNK_BYTES = 1024 * 1024;

type OpenUpload = (
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: UploadDatasetResponse) => void,
) => ClientWritableStream<UploadDatasetRequest>;

function* uploadMessages(input: UploadDatasetInput): Generator<UploadDatasetRequest> {
  const options: DatasetOptions = {
    classNames: [],
    seqLen: 0,
    maxVocabSize: 0,
    minWordCount: 0,
    imageSize: 0,
    color: false,
    ...input.options,
  };
  yield { part: { $case: 'header', value: { format: input.format, options, displayName: input.displayName ?? '' } } };
  const size = input.chunkBytes ?? DEFAULT_UPLOAD_CHUNK_BYTES;
  for (const [file, bytes] of Object.entries(input.files)) {
    // An empty file still sends one chunk, so the server sees it.
    for (let start = 0; start === 0 || start < bytes.byteLength; start += size) {
      const data = Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.min(size, bytes.byteLength - start));
      yield { part: { $case: 'chunk', value: { file, data } } };
    }
  }
}

/** One upload attempt: the header, then every file in chunks, respecting the stream's backpressure. */
export function uploadOnce(
  open: OpenUpload,
  metadata: Metadata,
  deadline: Date | undefined,
  signal: AbortSignal | undefined,
  input: UploadDatasetInput,
): Promise<UploadDatasetResponse> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelledError('aborted by signal'));
      return;
    }
    let settled = false;
    const call = open(metadata, deadline ? { deadline } : {}, (error, response) => {
      settled = true;
      signal?.removeEventListener('abort', cancel);
      if (error) reject(toSteadytuneError(error));
      else resolve(response);
    });
    const cancel = (): void => call.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    const messages = uploadMessages(input);
    const pump = (): void => {
      for (let next = messages.next(); !next.done; next = messages.next()) {
        if (settled) return;
        if (!call.write(next.value)) {
          call.once('drain', pump);
          return;
        }
      }
      call.end();
    };
    pump();
  });
}
