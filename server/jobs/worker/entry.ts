// Entry point of a pool worker thread: picks the TF.js backend once, then runs one task at a
// time as the pool sends them. Errors inside a task are reported as that task's failure; an
// error that escapes (or an out-of-memory kill) ends the thread, and the pool fails the task.
import { parentPort, workerData } from 'node:worker_threads';
import { ServiceError } from '../../common/errors.js';
import { selectBackend, type Weights } from '../../engine/index.js';
import { runEvaluate, runPredict, runTrain } from './tasks.js';
import {
  STOP_FLAG,
  transferablesOf,
  type FromWorker,
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
    // Not a ServiceError: INTERNAL, with the original (name, message, stack) as its cause.
    post({ kind: 'failure', taskId, failure: ServiceError.wrap(error).toWire() });
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
