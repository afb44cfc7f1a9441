// Where a registry's heavy data work runs: reading, validating, hashing and encoding a source
// (RegisterDataset, UploadDataset), and decoding and checking a stored content file (the first
// use of a dataset after a restart). For a 50 MB file that is 0.3 to 2.7 s of CPU, and on the
// event loop every other call would wait that long; ThreadedDatasetReader runs it on a few
// worker threads instead. InThreadDatasetReader does the same work in place (tests, tools).
import { Worker } from 'node:worker_threads';
import { ServiceError } from '../../common/errors.js';
import { readDatasetContent, Vocabulary, type DatasetContent, type DatasetSource, type RegistryOptions } from '../../data/index.js';
import { encodeContentFile, readContentFile, type StoredContentRef, type StoredExamples } from './dataset-content-file.js';
import type { LoadResult, ReaderRequest, ReaderResponse, ReadResult } from './dataset-reader-protocol.js';

export interface ReadContent {
  readonly content: DatasetContent;
  /** The content file's bytes (encodeContentFile). */
  readonly encoded: Uint8Array;
}

export interface DatasetReader {
  read(source: DatasetSource, options: Pick<RegistryOptions, 'dataRoot' | 'limits'>): Promise<ReadContent>;
  load(ref: StoredContentRef): Promise<StoredExamples>;
}

export class InThreadDatasetReader implements DatasetReader {
  async read(source: DatasetSource, options: Pick<RegistryOptions, 'dataRoot' | 'limits'>): Promise<ReadContent> {
    const content = await readDatasetContent(source, options);
    return { content, encoded: encodeContentFile(content) };
  }

  load(ref: StoredContentRef): Promise<StoredExamples> {
    return readContentFile(ref);
  }
}

const WORKER_BOOTSTRAP = new URL('../worker-bootstrap.mjs', import.meta.url);
const ENTRY = new URL('./dataset-reader-thread.ts', import.meta.url);

interface Pending {
  resolve(value: ReadResult | LoadResult): void;
  reject(error: Error): void;
}

/** One thread, one request at a time. */
class ReaderThread {
  private readonly worker = new Worker(WORKER_BOOTSTRAP, { workerData: { entry: ENTRY.href } });
  private pending: Pending | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  exited = false;

  constructor(onExit: (thread: ReaderThread) => void) {
    this.worker.on('message', (response: ReaderResponse) => {
      const pending = this.pending;
      this.pending = undefined;
      if (response.ok) pending?.resolve(response.value);
      else pending?.reject(ServiceError.fromWire(response.failure));
    });
    const fail = (error: Error): void => {
      this.exited = true;
      this.pending?.reject(new ServiceError('INTERNAL', `the dataset reader thread stopped: ${error.message}`, { cause: error }));
      this.pending = undefined;
      onExit(this);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  run(request: ReaderRequest): Promise<ReadResult | LoadResult> {
    clearTimeout(this.idleTimer);
    // A busy thread keeps the process alive until it answers; an idle one never does.
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(request);
    });
  }

  rest(idleMs: number, retire: () => void): void {
    this.worker.unref();
    this.idleTimer = setTimeout(retire, idleMs);
    this.idleTimer.unref();
  }

  stop(): void {
    clearTimeout(this.idleTimer);
    void this.worker.terminate();
  }
}

export interface ThreadedReaderOptions {
  /** Threads at most; more requests wait their turn. Default 2. */
  readonly maxThreads?: number;
  /** An idle thread stops after this long. Default 30 s. */
  readonly idleMs?: number;
}

export class ThreadedDatasetReader implements DatasetReader {
  private readonly maxThreads: number;
  private readonly idleMs: number;
  private readonly threads = new Set<ReaderThread>();
  private readonly idle: ReaderThread[] = [];
  private readonly waiting: Array<(thread: ReaderThread) => void> = [];
  private nextId = 1;

  constructor(options: ThreadedReaderOptions = {}) {
    this.maxThreads = options.maxThreads ?? 2;
    this.idleMs = options.idleMs ?? 30_000;
  }

  async read(source: DatasetSource, options: Pick<RegistryOptions, 'dataRoot' | 'limits'>): Promise<ReadContent> {
    const { dataRoot, limits } = options;
    const plainOptions = { ...(dataRoot === undefined ? {} : { dataRoot }), ...(limits === undefined ? {} : { limits }) };
    const { content, encoded } = (await this.run({ id: this.nextId++, op: 'read', source, options: plainOptions })) as ReadResult;
    const { vocabularyTokens, ...rest } = content;
    return { content: { ...rest, ...(vocabularyTokens === undefined ? {} : { vocabulary: new Vocabulary(vocabularyTokens) }) }, encoded };
  }

  async load(ref: StoredContentRef): Promise<StoredExamples> {
    const { vocabularyTokens, ...rest } = (await this.run({ id: this.nextId++, op: 'load', ref })) as LoadResult;
    return { ...rest, ...(vocabularyTokens === undefined ? {} : { vocabulary: new Vocabulary(vocabularyTokens) }) };
  }

  /** Stops every thread; a request in flight fails. */
  close(): void {
    for (const thread of this.threads) thread.stop();
    this.threads.clear();
    this.idle.length = 0;
  }

  private async run(request: ReaderRequest): Promise<ReadResult | LoadResult> {
    const thread = await this.acquire();
    try {
      return await thread.run(request);
    } finally {
      this.release(thread);
    }
  }

  private acquire(): Promise<ReaderThread> {
    const idle = this.idle.pop();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.threads.size < this.maxThreads) {
      const thread = new ReaderThread((gone) => this.forget(gone));
      this.threads.add(thread);
      return Promise.resolve(thread);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(thread: ReaderThread): void {
    if (thread.exited) {
      // Its place goes to a fresh thread for whoever waits.
      const next = this.waiting.shift();
      if (next !== undefined) void this.acquire().then(next);
      return;
    }
    const next = this.waiting.shift();
    if (next !== undefined) {
      next(thread);
      return;
    }
    this.idle.push(thread);
    thread.rest(this.idleMs, () => {
      const index = this.idle.indexOf(thread);
      if (index < 0) return;
      this.idle.splice(index, 1);
      this.threads.delete(thread);
      thread.stop();
    });
  }

  private forget(thread: ReaderThread): void {
    this.threads.delete(thread);
    const index = this.idle.indexOf(thread);
    if (index >= 0) this.idle.splice(index, 1);
  }
}

let shared: ThreadedDatasetReader | undefined;

/** The process's reader threads, shared by every registry that is given no reader of its own. */
export function sharedDatasetReader(): ThreadedDatasetReader {
  shared ??= new ThreadedDatasetReader();
  return shared;
}
