// PNG and JPEG decoding (pngjs, jpeg-js: maintained pure-JS decoders, no native build) and the
// pixel rows the engine trains on: values in [0, 1], grayscale (ITU-R BT.601 luma) or RGB
// channels last, optionally resized bilinearly. Alpha is ignored.
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  /** RGBA, row-major, one byte per channel. */
  readonly rgba: Uint8Array;
}

/** Bigger images are refused before decoding: a small compressed file can expand to gigabytes. */
export const MAX_IMAGE_PIXELS = 4096 * 4096;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export type ImageKind = 'png' | 'jpeg';

export function imageKindOf(bytes: Uint8Array): ImageKind | undefined {
  if (PNG_SIGNATURE.every((byte, i) => bytes[i] === byte)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** The IHDR size, read before pngjs allocates the decoded image. */
function pngSize(bytes: Uint8Array): { width: number; height: number } {
  if (bytes.byteLength < 24) throw new Error('PNG header is truncated');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16, false), height: view.getUint32(20, false) };
}

/** Throws an Error saying why the bytes are not a decodable PNG or JPEG. */
export function decodeImage(bytes: Uint8Array): DecodedImage {
  const kind = imageKindOf(bytes);
  if (kind === undefined) throw new Error('is neither a PNG nor a JPEG file');
  if (kind === 'png') {
    const { width, height } = pngSize(bytes);
    if (width * height > MAX_IMAGE_PIXELS) throw new Error(`is ${width}x${height}; the limit is ${MAX_IMAGE_PIXELS} pixels`);
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { width: png.width, height: png.height, rgba: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
  }
  const image = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
    maxMemoryUsageInMB: 256,
  });
  return { width: image.width, height: image.height, rgba: image.data };
}

/** Channel c of pixel (x, y) in [0, 1]; channel 3 of a grayscale request is the luma. */
function channelReader(image: DecodedImage, color: boolean): (x: number, y: number, channel: number) => number {
  const { rgba, width } = image;
  if (color) return (x, y, channel) => (rgba[(y * width + x) * 4 + channel] ?? 0) / 255;
  return (x, y) => {
    const at = (y * width + x) * 4;
    return (0.299 * (rgba[at] ?? 0) + 0.587 * (rgba[at + 1] ?? 0) + 0.114 * (rgba[at + 2] ?? 0)) / 255;
  };
}

/**
 * The image as one example's values ([height, width, channels], channels last), resized to
 * size x size when `size` is given: bilinear with half-pixel centres, as tf.image.resizeBilinear.
 */
export function imageValues(image: DecodedImage, color: boolean, size?: number): Float32Array {
  const channels = color ? 3 : 1;
  const read = channelReader(image, color);
  const outWidth = size ?? image.width;
  const outHeight = size ?? image.height;
  const values = new Float32Array(outWidth * outHeight * channels);
  const scaleX = image.width / outWidth;
  const scaleY = image.height / outHeight;
  for (let y = 0; y < outHeight; y++) {
    const sourceY = Math.min(Math.max((y + 0.5) * scaleY - 0.5, 0), image.height - 1);
    const y0 = Math.floor(sourceY);
    const y1 = Math.min(y0 + 1, image.height - 1);
    const dy = sourceY - y0;
    for (let x = 0; x < outWidth; x++) {
      const sourceX = Math.min(Math.max((x + 0.5) * scaleX - 0.5, 0), image.width - 1);
      const x0 = Math.floor(sourceX);
      const x1 = Math.min(x0 + 1, image.width - 1);
      const dx = sourceX - x0;
      for (let c = 0; c < channels; c++) {
        const top = read(x0, y0, c) * (1 - dx) + read(x1, y0, c) * dx;
        const bottom = read(x0, y1, c) * (1 - dx) + read(x1, y1, c) * dx;
        values[(y * outWidth + x) * channels + c] = top * (1 - dy) + bottom * dy;
      }
    }
  }
  return values;
}
