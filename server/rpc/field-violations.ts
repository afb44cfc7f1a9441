// Collects every bad field of a request before failing, so a caller fixes them all in one
// round trip. Field paths use the .proto names (snake_case, `[i]` for list items,
// `["key"]` for map entries), as google.rpc.BadRequest expects.
import { ServiceError, type FieldViolation } from '../common/errors.js';

/** Listed violations are capped: details travel in a trailer, and gRPC caps headers near 8 KiB. */
const MAX_LISTED = 50;
const MAX_IN_MESSAGE = 5;
/** Paths and descriptions can quote the caller's input (map keys); a trailer must not grow with it. */
const MAX_FIELD_CHARS = 160;
const MAX_DESCRIPTION_CHARS = 240;
const MAX_KEY_CHARS = 64;

export class FieldViolations {
  private readonly found: FieldViolation[] = [];
  private total = 0;

  add(field: string, description: string): void {
    this.total += 1;
    if (this.found.length < MAX_LISTED) {
      this.found.push({ field: clip(field, MAX_FIELD_CHARS), description: clip(description, MAX_DESCRIPTION_CHARS) });
    }
  }

  /** Throws the domain error rpc/errors.ts turns into INVALID_ARGUMENT + BadRequest. */
  throwIfAny(what: string): void {
    if (this.total === 0) return;
    const shown = this.found.slice(0, MAX_IN_MESSAGE).map((v) => `${v.field}: ${v.description}`);
    if (this.total > shown.length) shown.push(`and ${this.total - shown.length} more`);
    throw ServiceError.invalidArgument(`invalid ${what}: ${shown.join('; ')}`, this.found);
  }

  /** An integer in [min, max]; zero means `fallback` (proto3's "zero is the default"). */
  integer(field: string, value: number, fallback: number, min: number, max: number): number {
    const resolved = value === 0 ? fallback : value;
    if (!Number.isInteger(resolved) || resolved < min || resolved > max) {
      this.add(field, `must be an integer in ${min}..${max} (got ${value})`);
    }
    return resolved;
  }

  /** A finite number within the bounds; `open` marks bounds that are excluded. */
  real(field: string, value: number, bounds: RealBounds): number {
    const { min, max, openMin = false, openMax = false } = bounds;
    const belowMin = min !== undefined && (openMin ? value <= min : value < min);
    const aboveMax = max !== undefined && (openMax ? value >= max : value > max);
    if (!Number.isFinite(value) || belowMin || aboveMax) {
      this.add(field, `must be ${describeBounds(bounds)} (got ${value})`);
    }
    return value;
  }

  /** Maps a wire enum to its domain value; an unknown number (a newer client) is a violation. */
  enumValue<T>(field: string, value: number, table: ReadonlyMap<number, T>, enumName: string): T | undefined {
    const mapped = table.get(value);
    if (mapped === undefined) this.add(field, `unknown ${enumName} value ${value}`);
    return mapped;
  }
}

export interface RealBounds {
  readonly min?: number;
  readonly max?: number;
  readonly openMin?: boolean;
  readonly openMax?: boolean;
}

function describeBounds({ min, max, openMin = false, openMax = false }: RealBounds): string {
  if (min !== undefined && max !== undefined) return `in ${openMin ? '(' : '['}${min}, ${max}${openMax ? ')' : ']'}`;
  if (min !== undefined) return `${openMin ? '>' : '>='} ${min}`;
  if (max !== undefined) return `${openMax ? '<' : '<='} ${max}`;
  return 'a finite number';
}

/** `labels["Bad Key"]`: the map-entry path form of google.rpc.BadRequest (long keys clipped). */
export function mapEntryPath(field: string, key: string): string {
  return `${field}[${JSON.stringify(clip(key, MAX_KEY_CHARS))}]`;
}

/** At most `max` characters, the last one an ellipsis when something was cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
