// Text building blocks of the CLI: tables, numbers, durations. Pure functions, no I/O.

export type Alignment = 'left' | 'right';

export interface TableOptions {
  /** Per-column alignment; numbers read best right-aligned. Default: left. */
  align?: Alignment[];
  /** Spaces between columns; default 2. */
  gap?: number;
}

/** A plain-text table with a header row and a dashed rule under it. */
export function renderTable(headers: string[], rows: string[][], options: TableOptions = {}): string {
  const gap = ' '.repeat(options.gap ?? 2);
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const renderRow = (cells: string[]): string =>
    widths
      .map((width, column) => {
        const cell = cells[column] ?? '';
        return options.align?.[column] === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join(gap)
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join(gap);
  return [renderRow(headers), rule, ...rows.map(renderRow)].join('\n');
}

/** Fixed decimals, with a dash for values that are absent or not finite. */
export function formatNumber(value: number | undefined, decimals = 4): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(decimals);
}

/** A share in [0, 1] as a percentage with one decimal, e.g. 0.9123 → "91.2%". */
export function formatPercent(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : `${(value * 100).toFixed(1)}%`;
}

/** Human duration: "850ms", "45s", "3m12s", "1h05m", "2d03h". */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds > 0 && seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  const pad = (value: number): string => String(value).padStart(2, '0');
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m${pad(whole % 60)}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${pad(minutes % 60)}m`;
  return `${Math.floor(hours / 24)}d${pad(hours % 24)}h`;
}

/** `mean ± std [min, max]` of a stability statistic. */
export function formatStat(stat: { mean: number; std: number; min: number; max: number } | undefined, decimals = 4): string {
  if (stat === undefined) return '-';
  const number = (value: number): string => formatNumber(value, decimals);
  return `${number(stat.mean)} ± ${number(stat.std)} [${number(stat.min)}, ${number(stat.max)}]`;
}

/** Local time without the seconds' fraction, e.g. "2025-03-01 14:02:11". */
export function formatTimestamp(time: Date | undefined): string {
  if (time === undefined || Number.isNaN(time.getTime())) return '-';
  const pad = (value: number): string => String(value).padStart(2, '0');
  return (
    `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())} ` +
    `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`
  );
}

/** `JOB_STATE_RUNNING` → `running`: enum JSON names without their type prefix. */
export function enumLabel(jsonName: string, prefix: string): string {
  return (jsonName.startsWith(prefix) ? jsonName.slice(prefix.length) : jsonName).toLowerCase();
}

/** A bar of `width` cells filled in proportion to `fraction`. */
export function progressBar(fraction: number, width = 20): string {
  const clamped = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const filled = Math.round(clamped * width);
  return `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
}

/** Cuts a line to the terminal width so that `\r` redraws stay on one row. */
export function fitToWidth(line: string, columns: number | undefined): string {
  if (columns === undefined || columns <= 1 || line.length < columns) return line;
  return `${line.slice(0, columns - 2)}…`;
}
