// Entry point of a pool worker thread: picks the TF.js backend once, then runs one task at a
// time as the pool sends them. Errors inside a task are reported as that task's failure; an
// error that escapes (or an out-of-memory kill) ends the thread, and the pool fails the task.
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from '../../engine/backend.js';
import type { Weights } from '../../engine/types.js';
import { runEvaluate, runPredict, runTrain } from './tasks.js';
import {
  STOP_FLAG,
  transferablesOf,
  type FromWorker,
  type TaskFailure,
  type TaskResult,
  type ToWorker,
  type TrainProgress,
  type WorkerConfig,
  type WorkerData,
} from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('jobs/worker/entry.ts must run as a worker thread');
const config: WorkerConfig = (workerData as WorkerData | undefined)?.config ?? {};

const selected = await selectBackend(config.backendPreference);
post({ kind: 'ready', backend: selected.name, notices: selected.notes });

port.on('message', (message: ToWorker) => {
  void runTask(message);
});

async function runTask(message: ToWorker): Promise<void> {
  const { taskId, request } = message;
  const cancelFlag = new Int32Array(message.cancelFlag);
  try {
    let result: TaskResult;
    switch (request.kind) {
      case 'train':
        result = await runTrain(request, {
          backend: selected.name,
          config,
          stopRequest: () => {
            const flag = Atomics.load(cancelFlag, 0);
            return flag === STOP_FLAG.none ? 'continue' : flag === STOP_FLAG.suspend ? 'suspend' : 'stop';
          },
          report: (progress) => post({ kind: 'progress', taskId, progress }, transferablesOf(progressArrays(progress))),
        });
        break;
      case 'evaluate':
        result = await runEvaluate(request, config);
        break;
      case 'predict':
        result = await runPredict(request, config);
        break;
    }
    post({ kind: 'result', taskId, result }, transferablesOf(resultArrays(result)));
  } catch (error) {
    post({ kind: 'failure', taskId, failure: describeFailure(error) });
  }
}

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

function resultArrays(result: TaskResult): ArrayBufferView[] {
  const weights = (w: Weights): ArrayBufferView[] => w.map((weight) => weight.values);
  switch (result.kind) {
    case 'train':
      return weights(result.weights);
    case 'evaluate':
      return [];
    case 'predict':
      return result.predictions.map((p) => p.predictions.probabilities);
  }
}

/** A checkpoint's bytes are a fresh buffer nobody else holds: moved instead of copied. */
function progressArrays(progress: TrainProgress): ArrayBufferView[] {
  return progress.kind === 'checkpoint' ? [progress.encoded] : [];
}

function describeFailure(error: unknown): TaskFailure {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const extra = error as Error & { code?: unknown; violations?: unknown };
  const violations = Array.isArray(extra.violations)
    ? extra.violations.filter(isViolation).map((v) => ({ field: v.field, description: v.description }))
    : undefined;
  return {
    name: error.name,
    message: error.message,
    ...(typeof extra.code === 'string' ? { code: extra.code } : {}),
    ...(violations === undefined ? {} : { violations }),
  };
}

function isViolation(value: unknown): value is { field: string; description: string } {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.field === 'string' && typeof record.description === 'string';
}
