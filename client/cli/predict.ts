// `predict --model DIR --input FILE.jsonl`: offline inference of an exported bundle, no server.
// The offline entry is imported lazily so that no other command loads TF.js.
import { readFile } from 'node:fs/promises';
import { stringFlag, UsageError } from './args.js';
import { EXIT_OK, printLine, type CommandContext } from './context.js';

/** The `features` of each row of a dataset JSONL file (label and id optional, ignored). */
export function featureRows(text: string, file: string): number[][] {
  const rows: number[][] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new UsageError(`${file}:${index + 1} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    const features = typeof record === 'object' && record !== null ? (record as { features?: unknown }).features : undefined;
    if (!Array.isArray(features) || !features.every((value): value is number => typeof value === 'number' && Number.isFinite(value))) {
      throw new UsageError(`${file}:${index + 1} needs "features": an array of finite numbers (offline predict runs feature models)`);
    }
    rows.push(features);
  });
  return rows;
}

export async function predictCommand(context: CommandContext): Promise<number> {
  const modelDir = stringFlag(context.flags, 'model');
  const input = stringFlag(context.flags, 'input');
  if (modelDir === undefined || modelDir === '') throw new UsageError('predict: --model DIR (an exported bundle) is required');
  if (input === undefined || input === '') throw new UsageError('predict: --input FILE.jsonl is required');
  if (context.positionals.length > 0) throw new UsageError(`predict: unexpected argument(s) ${context.positionals.join(' ')}`);
  const rows = featureRows(await readFile(input, 'utf8'), input);
  const { loadExportedModel } = await import('../offline/index.js');
  const model = await loadExportedModel(modelDir);
  for (const prediction of model.predict(rows)) printLine(context.io.stdout, JSON.stringify(prediction));
  return EXIT_OK;
}
