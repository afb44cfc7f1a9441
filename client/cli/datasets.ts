// `datasets register|upload|list|get`: dataset registration from the command line.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  Dataset,
  DatasetFormat,
  datasetFormatFromJSON,
  datasetFormatToJSON,
  ListDatasetsResponse,
  type DatasetOptions,
  type RegisterDatasetResponse,
} from '../index.js';
import { parseCount, parseNumber, stringFlag, UsageError, type FlagValues } from './args.js';
import { EXIT_OK, printJson, printLine, type CommandContext } from './context.js';
import { enumLabel, formatTimestamp, renderTable } from './format.js';

const SUBCOMMANDS = ['register', 'upload', 'list', 'get'] as const;

export async function datasetsCommand(context: CommandContext): Promise<number> {
  const [subcommand, ...rest] = context.positionals;
  switch (subcommand) {
    case 'register':
    case 'upload':
      noMore(rest, subcommand);
      return printRegistration(context, subcommand === 'register' ? await register(context) : await upload(context));
    case 'list': {
      noMore(rest, 'list');
      const pageSize = stringFlag(context.flags, 'page-size');
      const page = await context.client.listDatasets(
        {
          pageSize: pageSize === undefined ? 0 : parseCount('page-size', pageSize),
          pageToken: stringFlag(context.flags, 'page-token') ?? '',
        },
        { signal: context.signal },
      );
      if (context.json) printJson(context.io.stdout, ListDatasetsResponse.toJSON(page));
      else printLine(context.io.stdout, page.datasets.length === 0 ? 'no datasets' : datasetsTable(page.datasets));
      if (!context.json && page.nextPageToken !== '')
        printLine(context.io.stderr, `more: steadytune datasets list --page-token ${page.nextPageToken}`);
      return EXIT_OK;
    }
    case 'get': {
      const [datasetId, ...extra] = rest;
      if (datasetId === undefined) throw new UsageError('datasets get: missing DATASET argument');
      noMore(extra, 'get');
      const dataset = await context.client.getDataset(datasetId, { signal: context.signal });
      if (context.json) printJson(context.io.stdout, Dataset.toJSON(dataset));
      else printLine(context.io.stdout, datasetDetail(dataset));
      return EXIT_OK;
    }
    default:
      throw new UsageError(`datasets: expected one of ${SUBCOMMANDS.join(', ')}${subcommand === undefined ? '' : `, got '${subcommand}'`}`);
  }
}

function noMore(extra: readonly string[], command: string): void {
  if (extra.length > 0) throw new UsageError(`datasets ${command}: unexpected argument(s) ${extra.join(' ')}`);
}

function formatFlag(flags: FlagValues): DatasetFormat {
  const text = stringFlag(flags, 'format');
  if (text === undefined) throw new UsageError('--format is required: jsonl, csv, idx or image_folder');
  const format = datasetFormatFromJSON(`DATASET_FORMAT_${text.toUpperCase()}`);
  if (format === DatasetFormat.UNRECOGNIZED || format === DatasetFormat.DATASET_FORMAT_UNSPECIFIED) {
    throw new UsageError(`--format: unknown format '${text}' (jsonl, csv, idx, image_folder)`);
  }
  return format;
}

function optionFlags(flags: FlagValues): Partial<DatasetOptions> {
  const text = (name: string): string | undefined => stringFlag(flags, name);
  const count = (name: string): number => (text(name) === undefined ? 0 : parseCount(name, text(name) ?? ''));
  const fraction = text('validation-fraction');
  return {
    classNames:
      text('class-names')
        ?.split(',')
        .map((name) => name.trim()) ?? [],
    ...(fraction === undefined ? {} : { validationFraction: parseNumber('validation-fraction', fraction) }),
    seqLen: count('seq-len'),
    imageSize: count('image-size'),
    color: flags['color'] === true,
  };
}

function register(context: CommandContext): Promise<RegisterDatasetResponse> {
  const { flags } = context;
  const split = (prefix: string) => ({
    path: stringFlag(flags, prefix) ?? '',
    imagesPath: stringFlag(flags, `${prefix}-images`) ?? '',
    labelsPath: stringFlag(flags, `${prefix}-labels`) ?? '',
  });
  const given = (files: ReturnType<typeof split>): boolean => files.path !== '' || files.imagesPath !== '' || files.labelsPath !== '';
  const validation = split('validation');
  const test = split('test');
  return context.client.registerDataset(
    {
      format: formatFlag(flags),
      train: split('train'),
      ...(given(validation) ? { validation } : {}),
      ...(given(test) ? { test } : {}),
      options: optionFlags(flags),
      displayName: stringFlag(flags, 'display-name') ?? '',
    },
    { signal: context.signal },
  );
}

/** Local files as UploadChunk names: a file per split, IDX pairs, or a folder of class folders. */
async function localFiles(format: DatasetFormat, flags: FlagValues): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const split of ['train', 'validation', 'test'] as const) {
    if (format === DatasetFormat.DATASET_FORMAT_IDX) {
      for (const part of ['images', 'labels'] as const) {
        const file = stringFlag(flags, `${split}-${part}`);
        if (file !== undefined) files[`${split}/${part}`] = await readFile(file);
      }
      continue;
    }
    const local = stringFlag(flags, split);
    if (local === undefined) continue;
    if (format !== DatasetFormat.DATASET_FORMAT_IMAGE_FOLDER) {
      files[split] = await readFile(local);
      continue;
    }
    for (const classEntry of await readdir(local, { withFileTypes: true })) {
      if (!classEntry.isDirectory() || classEntry.name.startsWith('.')) continue;
      for (const image of await readdir(path.join(local, classEntry.name), { withFileTypes: true })) {
        if (image.isFile())
          files[`${split}/${classEntry.name}/${image.name}`] = await readFile(path.join(local, classEntry.name, image.name));
      }
    }
  }
  return files;
}

async function upload(context: CommandContext): Promise<RegisterDatasetResponse> {
  const format = formatFlag(context.flags);
  return context.client.uploadDataset(
    {
      format,
      options: optionFlags(context.flags),
      displayName: stringFlag(context.flags, 'display-name') ?? '',
      files: await localFiles(format, context.flags),
    },
    { signal: context.signal },
  );
}

function printRegistration(context: CommandContext, response: RegisterDatasetResponse): number {
  const { dataset } = response;
  if (dataset === undefined) throw new Error('the server returned no dataset');
  if (context.json) printJson(context.io.stdout, { dataset: Dataset.toJSON(dataset), created: response.created });
  else printLine(context.io.stdout, `${dataset.id}${response.created ? '' : ' (already registered)'}\n${datasetDetail(dataset)}`);
  return EXIT_OK;
}

function datasetsTable(datasets: readonly Dataset[]): string {
  return renderTable(
    ['ID', 'NAME', 'FORMAT', 'CLASSES', 'EXAMPLES', 'CREATED'],
    datasets.map((dataset) => [
      dataset.id,
      dataset.displayName || '-',
      enumLabel(datasetFormatToJSON(dataset.format), 'DATASET_FORMAT_'),
      String(dataset.classNames.length),
      String(dataset.numExamples),
      dataset.createTime ? formatTimestamp(dataset.createTime) : '-',
    ]),
  );
}

function datasetDetail(dataset: Dataset): string {
  const report = dataset.report;
  const shape =
    report === undefined
      ? '-'
      : report.imageHeight > 0
        ? `${report.imageHeight}x${report.imageWidth}x${report.imageChannels} images`
        : report.seqLen > 0
          ? `${report.seqLen} tokens, vocabulary ${report.vocabSize}`
          : `${report.featureDim} features`;
  const lines = [
    `content sha256  ${dataset.contentHash}`,
    `format          ${enumLabel(datasetFormatToJSON(dataset.format), 'DATASET_FORMAT_')}`,
    `inputs          ${shape}`,
    `examples        ${dataset.numExamples} (train ${report?.train?.numExamples ?? '?'}, validation ${report?.validation?.numExamples ?? '?'})`,
    ...(report?.test === undefined ? [] : [`test split      ${report.test.numExamples} examples (reported only)`]),
    `classes         ${dataset.classNames.map((name, id) => `${name}: ${dataset.classCounts[id] ?? 0}`).join(', ')}`,
    ...(report?.notes ?? []).map((note) => `note            ${note}`),
  ];
  return lines.join('\n');
}
