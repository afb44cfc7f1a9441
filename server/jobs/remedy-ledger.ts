// The escalating policy's job-wide tally (extra steps spent, seeds that failed) in shared
// memory: a job's runs train on several worker threads at once, and each decision must see
// what the others spent. The main thread creates it per execution from the run rows (so a
// resumed job starts from what its recorded phases spent) and hands it to every run's task; a
// decision records its spending with a compare-and-swap, so two runs never both spend the
// last of the budget.
import { decideEscalation, type EscalationInput, type EscalationOutcome, type EscalationTally } from './escalation-policy.js';

const USED_STEPS = 0;
const FAILED_SEEDS = 1;

/** A new ledger holding `tally`, to hand to every run of one job execution. */
export function createLedger(tally: EscalationTally): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT);
  const cells = new BigInt64Array(buffer);
  cells[USED_STEPS] = BigInt(tally.usedSteps);
  cells[FAILED_SEEDS] = BigInt(tally.failedSeeds);
  return buffer;
}

export class RemedyLedger {
  private readonly cells: BigInt64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.cells = new BigInt64Array(buffer);
  }

  tally(): EscalationTally {
    return { usedSteps: Number(Atomics.load(this.cells, USED_STEPS)), failedSeeds: Number(Atomics.load(this.cells, FAILED_SEEDS)) };
  }

  /** Counts a run's first failure; returns the job's failed seeds, it included. */
  addFailedSeed(): number {
    return Number(Atomics.add(this.cells, FAILED_SEEDS, 1n)) + 1;
  }

  /** Moves the spent steps from `expected` to `expected + steps`; false when another run spent meanwhile. */
  trySpend(expected: number, steps: number): boolean {
    const seen = Atomics.compareExchange(this.cells, USED_STEPS, BigInt(expected), BigInt(expected + steps));
    return seen === BigInt(expected);
  }
}

/**
 * decideEscalation against the shared tally: a run's first failure is counted, and a restart's
 * spending recorded; if another run spent in between, the decision is taken again on the new
 * tally (it may now give up).
 */
export function decideWithLedger(ledger: RemedyLedger, input: Omit<EscalationInput, 'tally'>): EscalationOutcome {
  const failedSeeds = input.current.index === 0 ? ledger.addFailedSeed() : ledger.tally().failedSeeds;
  for (;;) {
    const { usedSteps } = ledger.tally();
    const outcome = decideEscalation({ ...input, tally: { usedSteps, failedSeeds } });
    if (outcome.spend === 0 || ledger.trySpend(usedSteps, outcome.spend)) return outcome;
  }
}
