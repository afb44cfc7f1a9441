// A scripted stand-in for the Trainer service, used to test the SDK's own logic (error
// decoding, retries, deadlines, stream resumption) without the real server. The real server
// is exercised by test/integration/.
import { Metadata, Server, ServerCredentials, status as GrpcStatus, type StatusObject } from '@grpc/grpc-js';
import { Any } from '../../client/gen/google/protobuf/any.js';
import { BadRequest, RetryInfo } from '../../client/gen/google/rpc/error_details.js';
import { Status } from '../../client/gen/google/rpc/status.js';
import { Job, JobState, TrainerService, type TrainerServer } from '../../client/gen/steadytune/v1/trainer.js';

export type RpcName = keyof typeof TrainerService;

export interface FakeTrainer {
  readonly port: number;
  address: string;
  /** Calls received per RPC, counted before the scripted handler runs. */
  calls: Record<RpcName, number>;
  /** Request metadata of every call, in arrival order. */
  metadataSeen: Metadata[];
  stop(): Promise<void>;
}

/** `port` 0 picks a free one; a given port lets a test restart a trainer where a client expects it. */
export async function startFakeTrainer(script: Partial<TrainerServer>, port = 0): Promise<FakeTrainer> {
  const calls = Object.fromEntries(Object.keys(TrainerService).map((name) => [name, 0])) as Record<RpcName, number>;
  const metadataSeen: Metadata[] = [];
  const unimplemented = { code: GrpcStatus.UNIMPLEMENTED, details: 'not scripted' };
  const implementation: TrainerServer = {
    startFineTune: (call, callback) => callback(unimplemented),
    getJob: (call, callback) => callback(unimplemented),
    listJobs: (call, callback) => callback(unimplemented),
    cancelJob: (call, callback) => callback(unimplemented),
    streamMetrics: (call) => call.emit('error', unimplemented),
    evaluate: (call, callback) => callback(unimplemented),
    predict: (call, callback) => callback(unimplemented),
    registerDataset: (call, callback) => callback(unimplemented),
    uploadDataset: (call, callback) => callback(unimplemented),
    getDataset: (call, callback) => callback(unimplemented),
    listDatasets: (call, callback) => callback(unimplemented),
    ...script,
  };
  // Count every call and record its metadata before handing it to the script.
  const counted = Object.fromEntries(
    Object.entries(implementation).map(([name, handler]) => [
      name,
      (call: { metadata: Metadata }, ...rest: unknown[]) => {
        calls[name as RpcName]++;
        metadataSeen.push(call.metadata);
        return (handler as (...args: unknown[]) => unknown)(call, ...rest);
      },
    ]),
  ) as unknown as TrainerServer;

  const server = new Server();
  server.addService(TrainerService, counted);
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return {
    address: `127.0.0.1:${boundPort}`,
    port: boundPort,
    calls,
    metadataSeen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

/** A status whose google.rpc.Status trailer carries BadRequest and/or RetryInfo details. */
export function richStatus(
  code: GrpcStatus,
  message: string,
  extra: { fieldViolations?: { field: string; description: string }[]; retryDelayMs?: number } = {},
): Partial<StatusObject> {
  const details: Any[] = [];
  if (extra.fieldViolations) {
    const value = Buffer.from(BadRequest.encode({ fieldViolations: extra.fieldViolations }).finish());
    details.push({ typeUrl: 'type.googleapis.com/google.rpc.BadRequest', value });
  }
  if (extra.retryDelayMs !== undefined) {
    const retryDelay = { seconds: Math.floor(extra.retryDelayMs / 1000), nanos: (extra.retryDelayMs % 1000) * 1e6 };
    details.push({ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: Buffer.from(RetryInfo.encode({ retryDelay }).finish()) });
  }
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(Status.encode({ code, message, details }).finish()));
  return { code, details: message, metadata };
}

export function runningJob(id: string): Job {
  return Job.fromPartial({ id, state: JobState.JOB_STATE_RUNNING });
}
