// The stability figure (the DSGD paper's Figure 1): x = method, y = accuracy, one dot per seed
// over a box plot per method; collapsed runs are red crosses, degenerate runs orange dots.
// A pure function from rows to a self-contained SVG string: no I/O, no fonts, no scripts.

export type FigureVerdict = 'ok' | 'degenerate' | 'collapsed';

export interface FigureRow {
  /** Column label; columns keep the order of first appearance. */
  readonly method: string;
  readonly seed: number;
  readonly accuracy: number;
  readonly verdict: FigureVerdict;
}

export interface FigureOptions {
  readonly title?: string;
  /** Default: 'accuracy'. */
  readonly yLabel?: string;
  /** Fixed y range; default: the data's range padded and rounded to the tick step. */
  readonly yRange?: readonly [number, number];
  /** Default: 140 px per column, at least 480. */
  readonly width?: number;
  /** Default: a 348 px plot area plus room for the labels (about 420). */
  readonly height?: number;
}

/** Tukey box: quartiles by linear interpolation (numpy's default), whiskers at the last point within 1.5 IQR. */
export interface BoxStats {
  readonly median: number;
  readonly q1: number;
  readonly q3: number;
  readonly whiskerLow: number;
  readonly whiskerHigh: number;
}

/** The q-quantile of ascending values, interpolating between order statistics (Hyndman-Fan type 7). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantile of no values');
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

export function boxStats(values: readonly number[]): BoxStats {
  const sorted = [...values].sort((a, b) => a - b);
  const q1 = quantile(sorted, 0.25);
  const q3 = quantile(sorted, 0.75);
  const reach = 1.5 * (q3 - q1);
  const inside = sorted.filter((value) => value >= q1 - reach && value <= q3 + reach);
  return {
    median: quantile(sorted, 0.5),
    q1,
    q3,
    whiskerLow: inside[0] ?? q1,
    whiskerHigh: inside[inside.length - 1] ?? q3,
  };
}

const COLORS: Readonly<Record<FigureVerdict, string>> = { ok: '#1f77b4', degenerate: '#ff7f0e', collapsed: '#d62728' };
/** The bottom margin grows with the method labels' line count (see renderStabilityFigure). */
const MARGIN = { left: 64, right: 16, top: 40 };
/** Average glyph advance of the 12 px sans-serif labels, for wrapping without font metrics. */
const CHAR_WIDTH = 6.8;
const MAX_LABEL_LINES = 3;
const MARKER_RADIUS = 4.5;

const escapeXml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Short fixed notation, so SVGs diff cleanly and stay small. */
const px = (value: number): string => String(Math.round(value * 10) / 10);

/** Greedy word wrap into lines of at most `maxChars` (a longer word keeps its own line); the last kept line ends in '…' when cut. */
export function wrapLabel(text: string, maxChars: number, maxLines = MAX_LABEL_LINES): string[] {
  const lines: string[] = [];
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 1 + word.length <= maxChars) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  kept[maxLines - 1] = `${kept[maxLines - 1]}…`;
  return kept;
}

/** Deterministic jitter in [-1, 1] from the seed (and column), so a figure is reproducible. */
function jitter(seed: number, column: number): number {
  let h = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(column + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (((h ^ (h >>> 16)) >>> 0) / 4294967296) * 2 - 1;
}

/** A tick step of 1, 2 or 5 times a power of ten giving about `target` ticks over the span. */
function tickStep(span: number, target: number): number {
  const raw = span / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const multiple = [1, 2, 5, 10].find((m) => m * power >= raw) ?? 10;
  return multiple * power;
}

function yDomain(values: readonly number[], fixed: FigureOptions['yRange']): { low: number; high: number; step: number } {
  if (fixed) return { low: fixed[0], high: fixed[1], step: tickStep(fixed[1] - fixed[0], 6) };
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = Math.max(max - min, 0.02);
  const step = tickStep(span, 6);
  // Accuracies live in [0, 1]: padding must not push the axis past either end.
  const low = Math.max(Math.floor((min - span * 0.05) / step) * step, min >= 0 ? 0 : -Infinity);
  const high = Math.min(Math.ceil((max + span * 0.05) / step) * step, max <= 1 ? 1 : Infinity);
  return { low, high, step };
}

function marker(x: number, y: number, row: FigureRow): string {
  const label = `<title>${escapeXml(`${row.method}, seed ${row.seed}: ${row.accuracy.toFixed(4)} (${row.verdict})`)}</title>`;
  const color = COLORS[row.verdict];
  if (row.verdict === 'collapsed') {
    const r = MARKER_RADIUS;
    const d = `M${px(x - r)} ${px(y - r)}L${px(x + r)} ${px(y + r)}M${px(x - r)} ${px(y + r)}L${px(x + r)} ${px(y - r)}`;
    return `<path class="marker collapsed" d="${d}" stroke="${color}" stroke-width="2.2">${label}</path>`;
  }
  return `<circle class="marker ${row.verdict}" cx="${px(x)}" cy="${px(y)}" r="${MARKER_RADIUS}" fill="${color}" fill-opacity="0.75" stroke="#fff" stroke-width="0.8">${label}</circle>`;
}

function legend(x: number, y: number): string {
  const entries: Array<[FigureVerdict, string]> = [
    ['ok', 'ok'],
    ['degenerate', 'degenerate'],
    ['collapsed', 'collapsed'],
  ];
  return entries
    .map(([verdict, text], index) => {
      const ex = x + index * 100;
      const swatch =
        verdict === 'collapsed'
          ? `<path d="M${ex - 4} ${y - 4}L${ex + 4} ${y + 4}M${ex - 4} ${y + 4}L${ex + 4} ${y - 4}" stroke="${COLORS[verdict]}" stroke-width="2.2"/>`
          : `<circle cx="${ex}" cy="${y}" r="${MARKER_RADIUS}" fill="${COLORS[verdict]}"/>`;
      return `<g class="legend">${swatch}<text x="${ex + 9}" y="${y + 4}">${text}</text></g>`;
    })
    .join('');
}

/** The figure as a standalone SVG document. */
export function renderStabilityFigure(rows: readonly FigureRow[], options: FigureOptions = {}): string {
  if (rows.length === 0) throw new Error('the stability figure needs at least one row');
  const methods = [...new Set(rows.map((row) => row.method))];
  const width = options.width ?? Math.max(480, MARGIN.left + MARGIN.right + methods.length * 140);
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const columnWidth = plotWidth / methods.length;
  const labels = methods.map((method) => wrapLabel(method, Math.max(4, Math.floor((columnWidth - 8) / CHAR_WIDTH))));
  // Label lines, the count line, then the legend row.
  const bottom = 18 + 14 * Math.max(...labels.map((lines) => lines.length)) + 40;
  const height = options.height ?? 348 + bottom;
  const plotHeight = height - MARGIN.top - bottom;
  const { low, high, step } = yDomain(
    rows.map((row) => row.accuracy),
    options.yRange,
  );
  const yOf = (value: number): number => MARGIN.top + plotHeight * (1 - (value - low) / (high - low));
  const xOf = (column: number): number => MARGIN.left + columnWidth * (column + 0.5);
  // Box on the left of each column, dots in a strip on the right: overlaid, tight dots hide the median.
  const boxHalf = Math.min(16, columnWidth * 0.12);
  const boxOffset = -Math.min(26, columnWidth * 0.18);
  const stripOffset = Math.min(20, columnWidth * 0.14);
  const stripHalf = Math.min(16, columnWidth * 0.12);

  const parts: string[] = [];
  // Ticks by index, not by repeated addition, so 0.1 steps do not drift to 0.30000000000000004.
  const tickCount = Math.round((high - low) / step);
  for (let index = 0; index <= tickCount; index++) {
    const tick = low + index * step;
    const y = px(yOf(tick));
    parts.push(`<line class="grid" x1="${MARGIN.left}" y1="${y}" x2="${width - MARGIN.right}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y}" dy="4" text-anchor="end">${tick.toFixed(step < 0.01 ? 3 : 2)}</text>`);
  }
  methods.forEach((method, column) => {
    const columnRows = rows.filter((row) => row.method === method);
    const box = boxStats(columnRows.map((row) => row.accuracy));
    const cx = xOf(column) + boxOffset;
    const [left, right] = [px(cx - boxHalf), px(cx + boxHalf)];
    parts.push(
      `<g class="box" data-method="${escapeXml(method)}" data-median="${box.median}" data-q1="${box.q1}" data-q3="${box.q3}" fill="none" stroke="#444" stroke-width="1.2">` +
        `<line x1="${px(cx)}" y1="${px(yOf(box.whiskerHigh))}" x2="${px(cx)}" y2="${px(yOf(box.q3))}"/>` +
        `<line x1="${px(cx)}" y1="${px(yOf(box.q1))}" x2="${px(cx)}" y2="${px(yOf(box.whiskerLow))}"/>` +
        `<line x1="${px(cx - boxHalf / 2)}" y1="${px(yOf(box.whiskerHigh))}" x2="${px(cx + boxHalf / 2)}" y2="${px(yOf(box.whiskerHigh))}"/>` +
        `<line x1="${px(cx - boxHalf / 2)}" y1="${px(yOf(box.whiskerLow))}" x2="${px(cx + boxHalf / 2)}" y2="${px(yOf(box.whiskerLow))}"/>` +
        `<rect x="${left}" y="${px(yOf(box.q3))}" width="${px(2 * boxHalf)}" height="${px(Math.max(yOf(box.q1) - yOf(box.q3), 0.5))}" fill="#f2f2f2"/>` +
        `<line class="median" x1="${left}" y1="${px(yOf(box.median))}" x2="${right}" y2="${px(yOf(box.median))}" stroke="#000" stroke-width="2"/>` +
        '</g>',
    );
    const stripX = xOf(column) + stripOffset;
    for (const row of columnRows) parts.push(marker(stripX + jitter(row.seed, column) * stripHalf, yOf(row.accuracy), row));
    const failed = columnRows.filter((row) => row.verdict !== 'ok').length;
    const labelLines = labels[column];
    const labelX = px(xOf(column));
    const spans = labelLines.map((line, index) => `<tspan x="${labelX}" dy="${index === 0 ? 0 : 14}">${escapeXml(line)}</tspan>`).join('');
    parts.push(`<text class="method" x="${labelX}" y="${height - bottom + 18}" text-anchor="middle">${spans}</text>`);
    const countY = height - bottom + 18 + 14 * labelLines.length + 2;
    parts.push(
      `<text class="count" x="${labelX}" y="${countY}" text-anchor="middle" fill="#666">n=${columnRows.length}${failed > 0 ? `, ${failed} failed` : ''}</text>`,
    );
  });
  const yLabelY = MARGIN.top + plotHeight / 2;
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    options.title
      ? `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(options.title)}</text>`
      : '',
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999"/>`,
    ...parts,
    `<text transform="translate(16 ${yLabelY}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel ?? 'accuracy')}</text>`,
    legend(MARGIN.left + 10, height - 14),
    '</svg>',
  ];
  return `${lines.filter((line) => line !== '').join('\n')}\n`;
}
