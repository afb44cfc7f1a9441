// The metrics side of the domain → wire mapping: evaluations, the stability summary with its
// uncertainty and delivered model, and Evaluate's answer. Pure functions.
import { Delivery as WireDelivery } from '../../client/gen/steadytune/v1/spec.js';
import {
  Verdict as WireVerdict,
  type DeliveredModel,
  type EvalMetrics,
  type EvaluateResponse,
  type StabilitySummary as WireStabilitySummary,
  type StabilityUncertainty as WireStabilityUncertainty,
  type Stat as WireStat,
} from '../../client/gen/steadytune/v1/trainer.js';
import type { Evaluation } from '../engine/tf-free.js';
import type { Delivery, DeliveryMode, EvaluationReport, StabilitySummary, StabilityUncertainty, Stat, Verdict } from '../jobs/types.js';

export const VERDICTS_TO_WIRE: Readonly<Record<Verdict, WireVerdict>> = {
  ok: WireVerdict.VERDICT_OK,
  degenerate: WireVerdict.VERDICT_DEGENERATE,
  collapsed: WireVerdict.VERDICT_COLLAPSED,
};

export function evaluationToWire(e: Evaluation): EvalMetrics {
  return {
    examples: e.examples,
    loss: e.loss,
    accuracy: e.accuracy,
    balancedAccuracy: e.balancedAccuracy,
    macroF1: e.macroF1,
    perClassRecall: [...e.perClassRecall],
    numClasses: e.numClasses,
    confusion: [...e.confusion],
    predictionCounts: [...e.predictionCounts],
    representationCosine: e.representationCosine,
    verdict: VERDICTS_TO_WIRE[e.verdict],
  };
}

function statToWire(stat: Stat): WireStat {
  return { mean: stat.mean, std: stat.std, min: stat.min, max: stat.max };
}

export function summaryToWire(s: StabilitySummary): WireStabilitySummary {
  return {
    runs: s.runs,
    accuracy: statToWire(s.accuracy),
    balancedAccuracy: statToWire(s.balancedAccuracy),
    macroF1: statToWire(s.macroF1),
    collapsed: s.collapsed,
    degenerate: s.degenerate,
    ensemble: s.ensemble === undefined ? undefined : evaluationToWire(s.ensemble),
    delivery: s.delivery === undefined ? undefined : deliveryToWire(s.delivery),
    uncertainty: s.uncertainty === undefined ? undefined : uncertaintyToWire(s.uncertainty),
  };
}

function uncertaintyToWire(u: StabilityUncertainty): WireStabilityUncertainty {
  return {
    confidence: u.confidence,
    failed: u.failed,
    failureRateUpper: u.failureRateUpper,
    balancedAccuracyMean: u.balancedAccuracyMean === undefined ? undefined : { ...u.balancedAccuracyMean },
    balancedAccuracyStd: u.balancedAccuracyStd === undefined ? undefined : { ...u.balancedAccuracyStd },
    bootstrapResamples: u.bootstrapResamples,
    bootstrapSeed: u.bootstrapSeed,
    requestedWidth: u.requestedWidth,
    // proto3 has no "unset" for a scalar: 0 seeds means not estimated (fewer than two runs).
    seedsForMeanWidth: u.seedsForMeanWidth ?? 0,
    seedsForStdWidth: u.seedsForStdWidth ?? 0,
  };
}

const DELIVERY_MODES_TO_WIRE: Readonly<Record<DeliveryMode, WireDelivery>> = {
  ensemble: WireDelivery.DELIVERY_ENSEMBLE,
  best_validation: WireDelivery.DELIVERY_BEST_VALIDATION,
  all: WireDelivery.DELIVERY_ALL,
};

function deliveryToWire(delivery: Delivery): DeliveredModel {
  return {
    mode: DELIVERY_MODES_TO_WIRE[delivery.mode],
    seeds: [...delivery.seeds],
    excluded: delivery.excluded.map(({ seed, reason }) => ({ seed, reason })),
    validation: delivery.validation === undefined ? undefined : evaluationToWire(delivery.validation),
    test: delivery.test === undefined ? undefined : evaluationToWire(delivery.test),
    note: delivery.note,
  };
}

export function evaluationReportToWire(report: EvaluationReport): EvaluateResponse {
  const { delivered } = report;
  return {
    evaluations: report.evaluations.map((e) => ({ seed: e.seed, metrics: evaluationToWire(e.metrics) })),
    summary: summaryToWire(report.summary),
    ensemble: report.ensemble === undefined ? undefined : evaluationToWire(report.ensemble),
    delivered: delivered === undefined ? undefined : { seeds: [...delivered.seeds], metrics: evaluationToWire(delivered.metrics) },
  };
}
