// Parses the command line, runs one command, and maps its outcome to an exit code.
import { GrpcStatus, SteadytuneClient, SteadytuneError } from '../index.js';
import { parseCommandLine, parseCount, stringFlag, UsageError, type CommandName } from './args.js';
import { cancelCommand, evalCommand, exportCommand, getCommand, jobsCommand, startCommand, watchCommand } from './commands.js';
import { datasetsCommand } from './datasets.js';
import { predictCommand } from './predict.js';
import { compareCommand, reportCommand } from './compare.js';
import { cliVersion, helpText, isHelpTopic } from './help.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_RPC_ERROR, EXIT_USAGE, printLine, type CliIo, type CommandContext } from './context.js';

export const DEFAULT_ADDRESS = '127.0.0.1:50051';
/**
 * How long a command waits for a server it has not reached yet: a server that is down fails the
 * command in about this long, naming the address, instead of after the SDK's retries (~20 s).
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;

const COMMANDS: Record<Exclude<CommandName, 'help'>, (context: CommandContext) => Promise<number>> = {
  start: startCommand,
  watch: watchCommand,
  jobs: jobsCommand,
  get: getCommand,
  cancel: cancelCommand,
  eval: evalCommand,
  export: exportCommand,
  predict: predictCommand,
  datasets: datasetsCommand,
  compare: compareCommand,
  report: reportCommand,
};

export interface CliEnvironment {
  STEADYTUNE_ADDRESS?: string;
  STEADYTUNE_TOKEN?: string;
}

/** Runs `steadytune <argv>` and returns the exit code; never throws. */
export async function runCli(
  argv: string[],
  env: CliEnvironment,
  io: CliIo,
  signal: AbortSignal = new AbortController().signal,
): Promise<number> {
  let client: SteadytuneClient | undefined;
  try {
    const { command, positionals, flags } = parseCommandLine(argv);
    if (flags['version'] === true) {
      printLine(io.stdout, `steadytune ${cliVersion()}`);
      return EXIT_OK;
    }
    if (command === 'help' || flags['help'] === true) {
      io.stdout.write(helpText(command === 'help' ? helpTopic(positionals) : command));
      return EXIT_OK;
    }
    const deadlineText = stringFlag(flags, 'deadline-ms');
    const connectTimeoutText = stringFlag(flags, 'connect-timeout-ms');
    client = new SteadytuneClient(stringFlag(flags, 'server') ?? env.STEADYTUNE_ADDRESS ?? DEFAULT_ADDRESS, {
      token: stringFlag(flags, 'token') ?? env.STEADYTUNE_TOKEN,
      defaultDeadlineMs: deadlineText === undefined ? undefined : parseCount('deadline-ms', deadlineText),
      connectTimeoutMs:
        connectTimeoutText === undefined ? DEFAULT_CONNECT_TIMEOUT_MS : parseCount('connect-timeout-ms', connectTimeoutText),
    });
    return await COMMANDS[command]({ client, io, flags, positionals, json: flags['json'] === true, signal });
  } catch (error) {
    return reportFailure(error, io, signal);
  } finally {
    client?.close();
  }
}

/** `help` alone, or `help COMMAND`. */
function helpTopic(positionals: readonly string[]): CommandName {
  const [topic, ...extra] = positionals;
  if (topic === undefined) return 'help';
  if (extra.length > 0 || !isHelpTopic(topic)) throw new UsageError(`help: expected one command name, got '${positionals.join(' ')}'`);
  return topic;
}

function reportFailure(error: unknown, io: CliIo, signal: AbortSignal): number {
  if (error instanceof UsageError) {
    printLine(io.stderr, `steadytune: ${error.message}`);
    printLine(io.stderr, `run 'steadytune --help' for usage`);
    return EXIT_USAGE;
  }
  if (error instanceof SteadytuneError) {
    if (signal.aborted && error.code === GrpcStatus.CANCELLED) return EXIT_INTERRUPTED;
    printLine(io.stderr, `error: ${error.codeName}: ${error.details}`);
    for (const violation of error.fieldViolations) printLine(io.stderr, `  ${violation.field}: ${violation.description}`);
    if (error.retryDelayMs !== undefined) printLine(io.stderr, `  retry after ${error.retryDelayMs} ms`);
    return EXIT_RPC_ERROR;
  }
  printLine(io.stderr, `error: ${error instanceof Error ? error.message : String(error)}`);
  return EXIT_RPC_ERROR;
}
