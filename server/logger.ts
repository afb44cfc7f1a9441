// Structured logs: one JSON object per line on stdout (what log collectors parse without
// configuration). No dependency: the service logs little, and JSON.stringify is enough.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line (e.g. a component or job id). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Where lines go; stdout unless a test captures them. */
  readonly write?: (line: string) => void;
  readonly fields?: LogFields;
}

export function createLogger(options: LoggerOptions): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const bound = options.fields ?? {};

  const log = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    // The fixed keys come last so a field can never overwrite time, level or msg.
    const entry = { ...bound, ...serializeFields(fields), time: new Date().toISOString(), level, msg };
    write(`${JSON.stringify(entry)}\n`);
  };

  return {
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
    child: (fields) => createLogger({ ...options, fields: { ...bound, ...fields } }),
  };
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

// Errors stringify to {} by default; keep what an operator needs to act on them.
function serializeFields(fields: LogFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields ?? {})) {
    out[key] = value instanceof Error ? serializeError(value, 0) : value;
  }
  return out;
}

// The cause matters most for an INTERNAL error from a worker: it holds the worker's own error.
function serializeError(error: Error, depth: number): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    stack: error.stack,
    ...(error.cause instanceof Error && depth < 4 ? { cause: serializeError(error.cause, depth + 1) } : {}),
  };
}
