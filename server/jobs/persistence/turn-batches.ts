// Calls made in one event-loop turn, handled together: a burst of StartFineTune calls costs one
// SQLite commit per batch instead of one per call. Each call still gets its own outcome. A batch
// holds at most `maxBatch` calls and the rest wait a turn each, so the answers of the first
// callers are written out before the next batch is handled, not after the whole burst.

/** What the handler gives each call of a batch: its value, or the error it alone is refused with. */
export type BatchOutcome<T> = { readonly value: T } | { readonly error: unknown };

interface Waiting<In, Out> {
  readonly input: In;
  readonly resolve: (value: Out) => void;
  readonly reject: (error: unknown) => void;
}

export class TurnBatches<In, Out> {
  private readonly waiting: Waiting<In, Out>[] = [];

  /**
   * @param handle handles one batch synchronously, an outcome per input in order; throwing
   *   refuses the whole batch with that error
   */
  constructor(
    private readonly handle: (inputs: readonly In[]) => readonly BatchOutcome<Out>[],
    private readonly maxBatch: number,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      if (this.waiting.length === 1) setImmediate(() => this.handleBatch());
    });
  }

  private handleBatch(): void {
    const batch = this.waiting.splice(0, this.maxBatch);
    if (this.waiting.length > 0) setImmediate(() => this.handleBatch());
    let outcomes: readonly BatchOutcome<Out>[];
    try {
      outcomes = this.handle(batch.map((call) => call.input));
    } catch (error) {
      for (const call of batch) call.reject(error);
      return;
    }
    batch.forEach((call, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) call.reject(new Error('unreachable: the batch handler gave fewer outcomes than inputs'));
      else if ('error' in outcome) call.reject(outcome.error);
      else call.resolve(outcome.value);
    });
  }
}
