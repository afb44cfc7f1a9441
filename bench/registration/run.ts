// Event-loop stalls while a dataset registers: a 1 ms ticker on the main thread records its
// longest gap while a ~50 MB file (JSONL and CSV; 64-feature rows and text rows) is read,
// validated, hashed, encoded and stored, with the work in place (InThreadDatasetReader, how
// every registration ran before) and on a reader thread (ThreadedDatasetReader, the server's
// default), interleaved round by round. Prints the longest stall and the registration's wall
// time per case, and the 1-minute load average.
//
//   npm run bench:registration -- --rounds=2 --mb=50
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { InThreadDatasetReader, ThreadedDatasetReader, type DatasetReader } from '../../server/jobs/persistence/dataset-reader.js';
import { openJobDatabase } from '../../server/jobs/persistence/sqlite-database.js';
import { SqliteDatasetRegistry } from '../../server/jobs/persistence/sqlite-dataset-registry.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2' }, mb: { type: 'string', default: '50' } } });
const rounds = Number(values.rounds);
const targetBytes = Number(values.mb) * 1024 * 1024;
const root = mkdtempSync(path.join(tmpdir(), 'steadytune-bench-registration-'));

type Kind = 'features' | 'text';
type Format = 'jsonl' | 'csv';

function writeSource(kind: Kind, format: Format): string {
  const lines: string[] = [];
  if (format === 'csv') lines.push(kind === 'text' ? 'label,text' : `label,${Array.from({ length: 64 }, (_, k) => `f${k}`).join(',')}`);
  let size = 0;
  for (let i = 0; size < targetBytes; i += 1) {
    const label = i % 3 === 0 ? 'a' : 'b';
    let line: string;
    if (kind === 'text') {
      const text = `example ${i} ${'lorem ipsum dolor sit amet '.repeat(8)}`;
      line = format === 'jsonl' ? JSON.stringify({ label, text }) : `${label},${text}`;
    } else {
      const features = Array.from({ length: 64 }, (_, k) => ((i * 31 + k) % 997) / 997);
      line = format === 'jsonl' ? JSON.stringify({ label, features }) : `${label},${features.join(',')}`;
    }
    lines.push(line);
    size += line.length + 1;
  }
  const file = `${kind}.${format}`;
  writeFileSync(path.join(root, file), lines.join('\n'));
  return file;
}

async function registerOnce(reader: DatasetReader, file: string, format: Format): Promise<{ stallMs: number; wallMs: number }> {
  const dir = mkdtempSync(path.join(root, 'db-'));
  const db = openJobDatabase(path.join(dir, 'steadytune.db'));
  const registry = new SqliteDatasetRegistry(db, { dataRoot: root, contentDir: path.join(dir, 'content'), reader });
  let last = performance.now();
  let stallMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 1);
  const start = performance.now();
  await registry.register('bench', { format, train: { path: file } });
  const wallMs = performance.now() - start;
  clearInterval(ticker);
  stallMs = Math.max(stallMs, performance.now() - last);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return { stallMs, wallMs };
}

const threaded = new ThreadedDatasetReader({ maxThreads: 1 });
const readers: ReadonlyArray<readonly [string, DatasetReader]> = [
  ['in place', new InThreadDatasetReader()],
  ['thread', threaded],
];
const cases = (['features', 'text'] as const).flatMap((kind) => (['jsonl', 'csv'] as const).map((format) => ({ kind, format })));
const files = new Map(cases.map(({ kind, format }) => [`${kind}.${format}`, writeSource(kind, format)]));
// Warm the thread once: its start-up (about a quarter second) is paid once per idle period, not per call.
await threaded.read({ format: 'jsonl', train: { path: files.get('features.jsonl') ?? '' } }, { dataRoot: root });

console.log(`registration of ~${values.mb} MB files, ${rounds} rounds interleaved; load average ${loadavg()[0]?.toFixed(2)}`);
console.log('case            reader    longest stall ms   wall ms');
for (let round = 0; round < rounds; round += 1) {
  for (const { kind, format } of cases) {
    for (const [name, reader] of readers) {
      const file = files.get(`${kind}.${format}`) ?? '';
      const { stallMs, wallMs } = await registerOnce(reader, file, format);
      console.log(`${`${kind}.${format}`.padEnd(16)}${name.padEnd(10)}${stallMs.toFixed(0).padStart(16)}${wallMs.toFixed(0).padStart(10)}`);
    }
  }
}
console.log(`load average at the end ${loadavg()[0]?.toFixed(2)}`);
threaded.close();
rmSync(root, { recursive: true, force: true });
