// Which keys of a parsed JSON/YAML document a reader never looked at, at any depth. The
// generated FineTuneSpec.fromJSON reads every field it knows by name and skips the rest
// silently, so a typo (`learningRat`) became a default; watching its reads finds those keys
// without a second copy of the schema that could drift from the proto.

/** A key the reader did not use, with the keys it looked for beside it. */
export interface UnreadKey {
  /** Dotted path from the document root, with [i] for array items: `model.gloveBag.trainEmbeddings`. */
  readonly path: string;
  readonly key: string;
  /** The keys the reader asked for at that level (known fields, in both spellings it accepts). */
  readonly known: readonly string[];
  /**
   * Present when the reader knows this key but ignored it because `shadowedBy` was given too
   * (two cases of a oneof, or camelCase and snake_case of one field).
   */
  readonly shadowedBy?: string;
}

interface Level {
  readonly path: string;
  readonly keys: readonly string[];
  readonly asked: Set<string>;
}

/** A key hidden from the reader: it reads as absent at that level. */
interface Hidden {
  readonly path: string;
  readonly key: string;
}

const joinPath = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

/** `value` behind proxies that record every key asked of each object, wrapping children as they are read. */
function watched(value: unknown, path: string, levels: Level[], hidden: Hidden | undefined): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const children = new Map<PropertyKey, unknown>();
  const child = (target: object, key: PropertyKey, childPath: string): unknown => {
    if (!children.has(key)) children.set(key, watched(Reflect.get(target, key), childPath, levels, hidden));
    return children.get(key);
  };
  if (Array.isArray(value)) {
    return new Proxy(value, {
      get: (target, key, receiver) =>
        typeof key === 'string' && /^\d+$/.test(key) ? child(target, key, `${path}[${key}]`) : Reflect.get(target, key, receiver),
    });
  }
  const level: Level = { path, keys: Object.keys(value), asked: new Set() };
  levels.push(level);
  return new Proxy(value, {
    get: (target, key, receiver) => {
      if (typeof key !== 'string') return Reflect.get(target, key, receiver);
      // Absent keys it asks for count too: they are the known names a typo is matched against.
      level.asked.add(key);
      if (!Object.hasOwn(target, key)) return Reflect.get(target, key, receiver);
      if (hidden !== undefined && hidden.path === path && hidden.key === key) return undefined;
      return child(target, key, joinPath(path, key));
    },
    has: (target, key) => {
      if (typeof key === 'string') level.asked.add(key);
      return Reflect.has(target, key);
    },
  });
}

function levelsRead(document: object, read: (document: unknown) => void, hidden?: Hidden): Level[] {
  const levels: Level[] = [];
  read(watched(document, '', levels, hidden));
  return levels;
}

/**
 * Every key of `document` that `read` did not ask for. A key under an unread key is not listed
 * (its parent is). `read` must be deterministic: it runs again, once per key it did use at a
 * level with unread keys, with that key hidden, to tell a shadowed key from an unknown one.
 */
export function unreadKeys(document: object, read: (document: unknown) => void): UnreadKey[] {
  const levels = levelsRead(document, read);
  const result: UnreadKey[] = [];
  for (const level of levels) {
    const unread = level.keys.filter((key) => !level.asked.has(key));
    if (unread.length === 0) continue;
    const used = level.keys.filter((key) => level.asked.has(key));
    const shadows = new Map<string, string>();
    for (const key of used) {
      const rerun = levelsRead(document, read, { path: level.path, key }).find((other) => other.path === level.path);
      for (const other of unread) if (rerun?.asked.has(other) === true && !shadows.has(other)) shadows.set(other, key);
    }
    const known = [...level.asked];
    for (const key of unread) {
      const shadowedBy = shadows.get(key);
      result.push({
        path: joinPath(level.path, key),
        key,
        known,
        ...(shadowedBy === undefined ? {} : { shadowedBy: joinPath(level.path, shadowedBy) }),
      });
    }
  }
  return result;
}

/** Edit distance (insert, delete, substitute), ignoring case. */
function editDistance(a: string, b: string): number {
  const [s, t] = [a.toLowerCase(), b.toLowerCase()];
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1)));
    }
    previous = current;
  }
  return previous[t.length];
}

/**
 * The known key `key` most likely meant: the closest within a third of its length (at least 2
 * edits), comparing with case and underscores dropped so `batchsize` finds `batchSize`.
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const plain = (name: string): string => name.replaceAll('_', '');
  const limit = Math.max(2, Math.floor(key.length / 3));
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(plain(key), plain(candidate));
    // Ties go to the spelling style the user wrote (snake_case or camelCase).
    const sameStyle = candidate.includes('_') === key.includes('_');
    if (distance <= limit && (best === undefined || distance < best.distance || (distance === best.distance && sameStyle))) {
      best = { key: candidate, distance };
    }
  }
  return best?.key;
}
