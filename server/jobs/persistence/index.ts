// Where jobs live, chosen once at start-up: SQLite under the data directory (the default;
// jobs, logs, checkpoints and registered datasets outlive the process, so restarts resume them) or memory (tests,
// throwaway runs; a restart forgets everything, so shutdown fails running jobs instead).
import path from 'node:path';
import type { DatasetRegistry } from '../../data/index.js';
import type { FileBackedRegistryOptions } from './file-backed-dataset-registry.js';
import { DirectoryCheckpointFiles, type Durability } from './checkpoint-files.js';
import { InMemoryEventLog, type EventLog } from '../event-log.js';
import { openJobDatabase } from './sqlite-database.js';
import { SqliteDatasetRegistry } from './sqlite-dataset-registry.js';
import { SqliteEventLog } from './sqlite-event-log.js';
import { SqliteJobStore } from './sqlite-store.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import { InMemoryJobStore, type JobStore } from '../store.js';

export { DataDirInUseError, lockDataDir, type DataDirLock, type DataDirOwner } from './data-dir-lock.js';

export type StoreKind = 'sqlite' | 'memory';

export interface PersistenceOptions {
  readonly kind: StoreKind;
  /** The database is <dataDir>/steadytune.db, checkpoints go under <dataDir>/checkpoints/. */
  readonly dataDir: string;
  readonly checkpointEverySteps: number;
  readonly checkpointsKept: number;
  readonly clock: () => number;
  /** Problems of background housekeeping (WAL checkpoints); the store keeps working. */
  readonly onWarning?: (message: string) => void;
}

export interface Persistence {
  readonly store: JobStore;
  readonly eventLog: EventLog;
  /** Present for the durable kind: what EmbeddedJobService needs to checkpoint and resume. */
  readonly durability?: Durability;
  /**
   * Present for the durable kind: a dataset registry in the same database (contents as files in
   * options.contentDir), so jobs resumed after a restart still find their datasets.
   */
  readonly openDatasetRegistry?: (options: FileBackedRegistryOptions) => DatasetRegistry;
  /** Closes the database; call after everything using the store has stopped. */
  close(): Promise<void>;
}

export const DATABASE_FILE = 'steadytune.db';

export function openPersistence(options: PersistenceOptions): Persistence {
  if (options.kind === 'memory') {
    return { store: new InMemoryJobStore(), eventLog: new InMemoryEventLog(options.clock), close: async () => {} };
  }
  const file = path.join(options.dataDir, DATABASE_FILE);
  const db = openJobDatabase(file);
  const checkpointer = new WalCheckpointer(file, db, {
    onError: (message) => options.onWarning?.(`WAL checkpoint failed: ${message}`),
  });
  return {
    store: new SqliteJobStore(db),
    eventLog: new SqliteEventLog(db, { clock: options.clock }),
    durability: {
      checkpoints: new DirectoryCheckpointFiles(path.join(options.dataDir, 'checkpoints'), options.checkpointsKept),
      checkpointEverySteps: options.checkpointEverySteps,
    },
    openDatasetRegistry: (registryOptions) => new SqliteDatasetRegistry(db, registryOptions),
    close: async () => {
      await checkpointer.close();
      db.close();
    },
  };
}
