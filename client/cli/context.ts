// What every command gets: the SDK client, output streams, parsed flags, and Ctrl-C.
import type { SteadytuneClient } from '../index.js';
import type { FlagValues } from './args.js';

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
}

export interface CommandContext {
  client: SteadytuneClient;
  io: CliIo;
  flags: FlagValues;
  positionals: string[];
  json: boolean;
  /** Aborted on SIGINT: long-running commands stop their streams. */
  signal: AbortSignal;
}

export const EXIT_OK = 0;
export const EXIT_RPC_ERROR = 1;
export const EXIT_USAGE = 2;
/** The job ended FAILED or CANCELLED while we waited for it. */
export const EXIT_JOB_UNSUCCESSFUL = 3;
export const EXIT_INTERRUPTED = 130;

export function printLine(stream: OutputStream, text: string): void {
  stream.write(`${text}\n`);
}

export function printJson(stream: OutputStream, value: unknown, pretty = true): void {
  stream.write(`${JSON.stringify(value, null, pretty ? 2 : undefined)}\n`);
}
