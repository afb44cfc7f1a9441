// Entry of a dataset reader thread (dataset-reader.ts): reads, validates, fingerprints and
// encodes a source, or loads and checks a stored content file, one request at a time.
import { parentPort } from 'node:worker_threads';
import { ServiceError } from '../../common/errors.js';
import { readDatasetContent } from '../../data/index.js';
import { encodeContentFile, readContentFile } from './dataset-content-file.js';
import { ownedBuffers, withoutVocabulary, type ReaderRequest, type ReaderResponse } from './dataset-reader-protocol.js';

const port = parentPort;
if (port === null) throw new Error('dataset-reader-thread.ts runs only as a worker thread');

async function answer(request: ReaderRequest): Promise<ReaderResponse> {
  try {
    if (request.op === 'read') {
      const content = await readDatasetContent(request.source, request.options);
      return { id: request.id, ok: true, value: { content: withoutVocabulary(content), encoded: encodeContentFile(content) } };
    }
    return { id: request.id, ok: true, value: withoutVocabulary(await readContentFile(request.ref)) };
  } catch (error) {
    return { id: request.id, ok: false, failure: ServiceError.wrap(error).toWire() };
  }
}

port.on('message', (request: ReaderRequest) => {
  void answer(request).then((response) => port.postMessage(response, response.ok ? ownedBuffers(response.value) : []));
});
