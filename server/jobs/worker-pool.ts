// A fixed-size pool of worker threads: every TF.js computation runs here, never on the gRPC
// event loop. One task per worker at a time (a seed run, an evaluation, a prediction).
// A worker that throws outside a task, runs out of memory or exits fails only its own task;
// the pool replaces it for the next one.
import { Worker } from 'node:worker_threads';
import { ServiceError } from '../common/errors.js';
import type { JobLogger } from './types.js';
import {
  STOP_FLAG,
  transferablesOf,
  weightArrays,
  type FromWorker,
  type ResultOf,
  type TaskRequest,
  type ToWorker,
  type TrainProgress,
  type WorkerData,
  type WorkerConfig,
} from './worker/protocol.js';

export interface WorkerPoolOptions {
  /** Worker threads; each trains one seed at a time. */
  readonly size: number;
  readonly config: WorkerConfig;
  readonly logger: JobLogger;
  /** Per-worker V8 heap cap: an out-of-memory worker dies alone instead of taking the process. */
  readonly maxOldGenerationSizeMb?: number;
  /** After a cancel, how long a task may take to reach a step boundary before its worker is terminated. */
  readonly cancelGraceMs?: number;
  /** Tests point this at fixture workers. */
  readonly workerUrl?: URL;
}

/** A task dropped from the queue by a cancel or by close(): it never reached a worker. */
function cancelledBeforeStart(): ServiceError {
  return new ServiceError('CANCELLED', 'cancelled before it started');
}

export interface TaskHandle<R extends TaskRequest> {
  /** Rejects with a ServiceError: the worker's own (rebuilt), CANCELLED, UNAVAILABLE or INTERNAL. */
  readonly result: Promise<ResultOf<R>>;
  /** Ask the task to stop at its next step boundary (queued tasks are dropped). Idempotent. */
  cancel(): void;
  /** Like cancel, but a training task checkpoints before it stops; a cancel still wins. */
  suspend(): void;
}

interface PendingTask {
  readonly id: number;
  readonly request: TaskRequest;
  readonly cancelFlag: Int32Array;
  readonly onProgress: (progress: TrainProgress) => void;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
  graceTimer?: NodeJS.Timeout;
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  task?: PendingTask;
  /** The last 'error' event, reported when the worker exits. */
  crash?: Error;
}

const DEFAULT_CANCEL_GRACE_MS = 60_000;
const WORKER_BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);

export class WorkerPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: PendingTask[] = [];
  private nextTaskId = 1;
  private closing = false;
  private readonly workerUrl: URL;

  /** Tasks waiting for a free worker (the queue-depth gauge). */
  queuedTasks(): number {
    return this.queue.length;
  }

  /** Workers running a task now (the utilisation gauge). */
  busyWorkers(): number {
    return [...this.slots].filter((slot) => slot.task !== undefined).length;
  }

  constructor(private readonly options: WorkerPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new Error(`pool size must be >= 1, got ${options.size}`);
    this.workerUrl = options.workerUrl ?? new URL('./worker/entry.ts', import.meta.url);
  }

  get size(): number {
    return this.options.size;
  }

  /** True once a worker is up and the pool is not shutting down. */
  ready(): boolean {
    return !this.closing && [...this.slots].some((slot) => slot.ready);
  }

  /** Starts every worker and waits until each has initialised its backend. */
  async start(): Promise<void> {
    const started: Promise<void>[] = [];
    while (this.slots.size < this.options.size) started.push(this.spawn().readyPromise);
    await Promise.all(started);
  }

  run<R extends TaskRequest>(request: R, onProgress: (progress: TrainProgress) => void = () => {}): TaskHandle<R> {
    if (this.closing) {
      return {
        result: Promise.reject(new ServiceError('UNAVAILABLE', 'the worker pool is shutting down')),
        cancel: () => {},
        suspend: () => {},
      };
    }
    let task: PendingTask | undefined;
    const result = new Promise<ResultOf<R>>((resolve, reject) => {
      task = {
        id: this.nextTaskId++,
        request,
        cancelFlag: new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)),
        onProgress,
        resolve: (value) => resolve(value as ResultOf<R>),
        reject,
      };
    });
    const created = task;
    if (created === undefined) throw new Error('unreachable: promise executor runs synchronously');
    if (request.kind === 'train') {
      this.queue.push(created);
    } else {
      // Evaluate/Predict are short and someone is waiting on them: ahead of queued seed runs.
      const firstTrain = this.queue.findIndex((queued) => queued.request.kind === 'train');
      this.queue.splice(firstTrain < 0 ? this.queue.length : firstTrain, 0, created);
    }
    this.dispatch();
    return {
      result,
      cancel: () => this.stopTask(created, STOP_FLAG.cancel),
      suspend: () => this.stopTask(created, STOP_FLAG.suspend),
    };
  }

  /**
   * Stops taking tasks, asks running ones to stop at their next step (as a suspend: a training
   * task checkpoints first), and terminates workers after the grace period.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const task of this.queue.splice(0)) task.reject(cancelledBeforeStart());
    const running = [...this.slots].flatMap((slot) => (slot.task === undefined ? [] : [slot.task]));
    // A task already told to suspend keeps that request: closing must not turn it into a cancel.
    for (const task of running) this.stopTask(task, STOP_FLAG.suspend);
    await Promise.all([...this.slots].map((slot) => this.exited(slot)));
  }

  private stopTask(task: PendingTask, flag: typeof STOP_FLAG.cancel | typeof STOP_FLAG.suspend): void {
    const queued = this.queue.indexOf(task);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      task.reject(cancelledBeforeStart());
      return;
    }
    // cancel overrides a pending suspend; suspend never overrides anything.
    const previous =
      flag === STOP_FLAG.cancel
        ? Atomics.exchange(task.cancelFlag, 0, flag)
        : Atomics.compareExchange(task.cancelFlag, 0, STOP_FLAG.none, flag);
    if (previous !== STOP_FLAG.none) return;
    const slot = [...this.slots].find((s) => s.task === task);
    if (slot === undefined) return;
    task.graceTimer = setTimeout(() => {
      if (slot.task !== task) return;
      this.options.logger.warn('task ignored cancel; terminating its worker', { taskId: task.id });
      slot.crash = new Error('stopped: the task did not reach a step boundary in time and its worker was terminated');
      void slot.worker.terminate();
    }, this.options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS);
    task.graceTimer.unref();
  }

  private dispatch(): void {
    if (this.closing) return;
    // Starting workers count as available: they take the queue head once ready.
    while (this.slots.size < this.options.size && this.queue.length > [...this.slots].filter(isFree).length) {
      this.spawn();
    }
    for (const slot of this.slots) {
      if (!isIdle(slot)) continue;
      const task = this.queue.shift();
      if (task === undefined) return;
      slot.task = task;
      const message: ToWorker = {
        kind: 'task',
        taskId: task.id,
        cancelFlag: task.cancelFlag.buffer as SharedArrayBuffer,
        request: task.request,
      };
      const arrays = task.request.kind === 'train' ? [] : weightArrays(task.request.models);
      slot.worker.postMessage(message, transferablesOf(arrays));
    }
  }

  private spawn(): Slot & { readyPromise: Promise<void> } {
    // The bootstrap registers tsx in the thread, then imports the TypeScript entry.
    const worker = new Worker(WORKER_BOOTSTRAP, {
      workerData: { entry: this.workerUrl.href, config: this.options.config } satisfies WorkerData,
      ...(this.options.maxOldGenerationSizeMb === undefined
        ? {}
        : { resourceLimits: { maxOldGenerationSizeMb: this.options.maxOldGenerationSizeMb } }),
    });
    let markReady: () => void = () => {};
    let failStart: (error: Error) => void = () => {};
    const readyPromise = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    // Nobody may be waiting for this worker's start; its failure is reported through tasks.
    readyPromise.catch(() => {});
    const slot: Slot & { readyPromise: Promise<void> } = { worker, ready: false, readyPromise };
    this.slots.add(slot);
    worker.on('message', (message: FromWorker) => {
      if (message.kind === 'ready') {
        slot.ready = true;
        for (const notice of message.notices) this.options.logger.info(notice, { backend: message.backend });
        markReady();
        this.dispatch();
        return;
      }
      this.onTaskMessage(slot, message);
    });
    worker.on('messageerror', (error) => {
      slot.crash = slot.crash ?? error;
      void worker.terminate();
    });
    worker.on('error', (error) => {
      slot.crash = slot.crash ?? error;
      this.options.logger.error('worker thread crashed', { error: error.message, taskId: slot.task?.id });
    });
    worker.on('exit', (code) => {
      this.slots.delete(slot);
      const reason = slot.crash ?? new Error(`worker thread exited with code ${code}`);
      failStart(reason);
      if (!slot.ready && ![...this.slots].some((other) => other.ready)) {
        // A worker that cannot even start (bad backend, broken install) would fail again:
        // fail the waiting tasks instead of respawning forever.
        this.options.logger.error('worker thread failed to start', { error: reason.message });
        for (const queued of this.queue.splice(0)) {
          queued.reject(new ServiceError('INTERNAL', `worker failed to start: ${reason.message}`, { cause: reason }));
        }
      }
      const task = slot.task;
      slot.task = undefined;
      if (task !== undefined) {
        clearTimeout(task.graceTimer);
        task.reject(new ServiceError('INTERNAL', `worker failed: ${reason.message}`, { cause: reason }));
      }
      this.dispatch();
    });
    return slot;
  }

  private onTaskMessage(slot: Slot, message: Exclude<FromWorker, { kind: 'ready' }>): void {
    const task = slot.task;
    if (task === undefined || task.id !== message.taskId) return;
    if (message.kind === 'progress') {
      task.onProgress(message.progress);
      return;
    }
    clearTimeout(task.graceTimer);
    slot.task = undefined;
    if (message.kind === 'result') task.resolve(message.result);
    else task.reject(ServiceError.fromWire(message.failure));
    this.dispatch();
  }

  private exited(slot: Slot): Promise<void> {
    return new Promise((resolve) => {
      if (!this.slots.has(slot)) {
        resolve();
        return;
      }
      slot.worker.once('exit', () => resolve());
      // Idle workers go now; busy ones after their task settles (or the cancel grace runs out).
      const stopWhenIdle = (): void => {
        if (slot.task === undefined) void slot.worker.terminate();
        else setTimeout(stopWhenIdle, 50).unref();
      };
      stopWhenIdle();
    });
  }
}

function isIdle(slot: Slot): boolean {
  return slot.ready && slot.task === undefined;
}

function isFree(slot: Slot): boolean {
  return slot.task === undefined;
}
