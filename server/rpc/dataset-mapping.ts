// Registered datasets (data layer) → the wire's Dataset. Pure.
import {
  DatasetFormat as WireDatasetFormat,
  DatasetInputKind,
  type Dataset,
  type DatasetReport as WireDatasetReport,
} from '../../client/gen/steadytune/v1/dataset.js';
import type { DatasetFormat, DatasetRegistration, DatasetReport } from '../data/index.js';

const FORMATS_TO_WIRE: Readonly<Record<DatasetFormat, WireDatasetFormat>> = {
  jsonl: WireDatasetFormat.DATASET_FORMAT_JSONL,
  csv: WireDatasetFormat.DATASET_FORMAT_CSV,
  idx: WireDatasetFormat.DATASET_FORMAT_IDX,
  image_folder: WireDatasetFormat.DATASET_FORMAT_IMAGE_FOLDER,
};

export function datasetToWire(dataset: DatasetRegistration): Dataset {
  return {
    id: dataset.id,
    contentHash: dataset.contentHash,
    displayName: dataset.displayName,
    format: FORMATS_TO_WIRE[dataset.format],
    classNames: [...dataset.classNames],
    classCounts: [...dataset.classCounts],
    numExamples: dataset.numExamples,
    report: reportToWire(dataset.report),
    createTime: new Date(dataset.createTime),
  };
}

function reportToWire(report: DatasetReport): WireDatasetReport {
  return {
    inputKind: report.inputKind === 'features' ? DatasetInputKind.DATASET_INPUT_KIND_FEATURES : DatasetInputKind.DATASET_INPUT_KIND_TOKENS,
    featureDim: report.featureDim ?? 0,
    seqLen: report.seqLen ?? 0,
    vocabSize: report.vocabSize ?? 0,
    textPairs: report.textPairs ?? false,
    train: { numExamples: report.train.numExamples, classCounts: [...report.train.classCounts] },
    validation: { numExamples: report.validation.numExamples, classCounts: [...report.validation.classCounts] },
    test: report.test === undefined ? undefined : { numExamples: report.test.numExamples, classCounts: [...report.test.classCounts] },
    truncatedTexts: report.truncatedTexts,
    notes: [...report.notes],
    imageHeight: report.imageShape?.height ?? 0,
    imageWidth: report.imageShape?.width ?? 0,
    imageChannels: report.imageShape?.channels ?? 0,
  };
}
