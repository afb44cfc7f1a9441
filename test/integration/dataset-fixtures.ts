// Dataset files the dataset tests write into a data root: JSONL, CSV, IDX (gzip) and image
// folders (PNG and JPEG, encoded with the same libraries the server decodes with).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

export async function writeFixture(root: string, name: string, content: string | Uint8Array): Promise<string> {
  await mkdir(path.dirname(path.join(root, name)), { recursive: true });
  await writeFile(path.join(root, name), content);
  return name;
}

export const jsonl = (records: readonly unknown[]): string => records.map((record) => JSON.stringify(record)).join('\n') + '\n';

/** Two classes of 2-d points, separable: `ham` near 0, `spam` near 1. */
export function pointRows(count: number): Array<{ label: string; features: number[] }> {
  return Array.from({ length: count }, (_, i) => {
    const spam = i % 2 === 1;
    return { label: spam ? 'spam' : 'ham', features: [(spam ? 0.9 : 0.1) + (i % 5) * 0.01, (spam ? 0.8 : 0.2) - (i % 3) * 0.01] };
  });
}

export function pointsCsv(count: number): string {
  return ['label,x,y', ...pointRows(count).map((row) => `${row.label},${row.features.join(',')}`)].join('\n') + '\n';
}

/** An IDX file: unsigned bytes with the given dimensions, gzip-compressed as Debian ships them. */
export function idxFile(dims: readonly number[], data: Uint8Array, gzip = true): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((dim, axis) => header.writeUInt32BE(dim, 4 + 4 * axis));
  const bytes = Buffer.concat([header, Buffer.from(data)]);
  return gzip ? gzipSync(bytes) : bytes;
}

/** `count` 4x4 images whose brightness is their label (0..2) and their labels. */
export function tinyIdx(count: number): { images: Uint8Array; labels: Uint8Array } {
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 3);
  const pixels = new Uint8Array(count * 16);
  labels.forEach((label, i) => pixels.fill(40 + 90 * label, i * 16, (i + 1) * 16));
  return { images: idxFile([count, 4, 4], pixels), labels: idxFile([count], labels) };
}

/** A square RGB image of one colour, as PNG or JPEG bytes. */
export function solidImage(kind: 'png' | 'jpeg', size: number, rgb: readonly [number, number, number]): Uint8Array {
  const rgba = Buffer.alloc(size * size * 4);
  for (let p = 0; p < size * size; p++) rgba.set([...rgb, 255], p * 4);
  if (kind === 'jpeg') return new Uint8Array(jpeg.encode({ width: size, height: size, data: rgba }, 95).data);
  const png = new PNG({ width: size, height: size });
  rgba.copy(png.data);
  return new Uint8Array(PNG.sync.write(png));
}

/** `<folder>/<class>/<n>.(png|jpg)`: dark images are "night", bright ones "day". */
export async function writeImageFolder(root: string, folder: string, perClass: number, size = 8): Promise<void> {
  for (let i = 0; i < perClass; i++) {
    const kind = i % 2 === 0 ? 'png' : 'jpeg';
    const extension = kind === 'png' ? 'png' : 'jpg';
    await writeFixture(root, `${folder}/night/${i}.${extension}`, solidImage(kind, size, [10 + i, 20, 30]));
    await writeFixture(root, `${folder}/day/${i}.${extension}`, solidImage(kind, size, [230 - i, 220, 200]));
  }
}
