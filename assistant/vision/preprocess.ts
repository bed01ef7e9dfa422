/**
 * Image preparation with sharp (libvips runs it off the main thread):
 *  1. probe the header only: format allow-list and the pixel limit are checked before any pixel is decoded,
 *     so a 20000x20000 image is refused without allocating it;
 *  2. decode once (failing on truncated or corrupt data, tolerating mere warnings, which some cameras
 *     trigger), auto-oriented (EXIF), flattened to 3-channel sRGB and shrunk to a working copy no larger
 *     than needed (the snapshot or the model input, whichever is bigger);
 *  3. from the working copy: the letterboxed model input (interleaved RGB bytes; the worker makes the
 *     float tensor) and the JPEG snapshot (longest side <= 640 px).
 */
import sharp, { type Metadata } from 'sharp';
import { AppError } from '../errors.js';

/** formats accepted from cameras; others (svg, pdf, raw, ...) are refused */
export const IMAGE_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);
export const SNAPSHOT_MAX_SIDE = 640;
const SNAPSHOT_QUALITY = 80;

export interface ImageInfo {
  format: string;
  /** size after EXIF orientation */
  width: number;
  height: number;
}

export interface Letterbox {
  /** where the image sits inside the model input, in input pixels */
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LetterboxOptions {
  input: readonly [number, number];
  align: 'top-left' | 'center';
  pad: number;
}

export interface WorkingImage {
  info: ImageInfo;
  /** interleaved sRGB bytes of the working copy */
  data: Buffer;
  width: number;
  height: number;
}

/** Turns a sharp error into the product's error codes. */
function imageError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (/pixel limit/i.test(msg)) return new AppError('payload_too_large', 'the image has too many pixels', { cause: e });
  if (/unsupported image format/i.test(msg)) return new AppError('bad_image', 'not an image, or an unsupported image format', { cause: e });
  if (/empty/i.test(msg)) return new AppError('bad_image', 'the image is empty', { cause: e });
  return new AppError('bad_image', `the image cannot be decoded (${msg.split('\n')[0]})`, { cause: e });
}

/** Reads the header only: format, oriented size. Throws bad_image / payload_too_large. */
export async function probeImage(image: Buffer, maxPixels: number): Promise<ImageInfo> {
  if (!image || image.length === 0) throw new AppError('bad_image', 'the image is empty');
  let meta: Metadata;
  try {
    meta = await sharp(image, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw imageError(e);
  }
  if (!IMAGE_FORMATS.has(meta.format)) throw new AppError('bad_image', `unsupported image format: ${meta.format}`);
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!(width > 0) || !(height > 0)) throw new AppError('bad_image', 'the image has no size');
  if (width * height > maxPixels) {
    throw new AppError('payload_too_large', `the image is ${width}x${height} = ${width * height} pixels, more than the limit of ${maxPixels}`);
  }
  return { format: meta.format, width, height };
}

/**
 * Decodes the image once into a 3-channel sRGB working copy whose longest side is at most `maxSide`
 * (never enlarged). Pixels beyond `maxPixels` are refused before decoding.
 */
export async function decodeImage(image: Buffer, maxPixels: number, maxSide: number): Promise<WorkingImage> {
  const info = await probeImage(image, maxPixels);
  try {
    const { data, info: out } = await sharp(image, { limitInputPixels: Math.max(1, Math.floor(maxPixels)), failOn: 'error', pages: 1 })
      .rotate()
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: { r: 114, g: 114, b: 114 } })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (out.channels !== 3) throw new AppError('bad_image', `unsupported channel layout (${out.channels} channels)`);
    return { info, data, width: out.width, height: out.height };
  } catch (e) {
    throw imageError(e);
  }
}

/** Where a srcW x srcH image goes inside the model input (scaled to fit, aspect kept). */
export function letterboxGeometry(srcW: number, srcH: number, opts: Pick<LetterboxOptions, 'input' | 'align'>): Letterbox {
  const [iw, ih] = opts.input;
  const r = Math.min(iw / srcW, ih / srcH);
  const w = Math.min(iw, Math.max(1, Math.round(srcW * r)));
  const h = Math.min(ih, Math.max(1, Math.round(srcH * r)));
  const x = opts.align === 'center' ? Math.floor((iw - w) / 2) : 0;
  const y = opts.align === 'center' ? Math.floor((ih - h) / 2) : 0;
  return { x, y, w, h };
}

/** The letterboxed model input as interleaved RGB bytes (input width x height x 3). */
export async function letterbox(img: WorkingImage, opts: LetterboxOptions): Promise<{ pixels: Buffer; box: Letterbox }> {
  const box = letterboxGeometry(img.width, img.height, opts);
  const [iw, ih] = opts.input;
  const pad = { r: opts.pad, g: opts.pad, b: opts.pad };
  const pixels = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(box.w, box.h, { fit: 'fill' })
    .extend({ left: box.x, top: box.y, right: iw - box.w - box.x, bottom: ih - box.h - box.y, background: pad })
    .raw()
    .toBuffer();
  if (pixels.length !== iw * ih * 3) throw new Error(`letterbox produced ${pixels.length} bytes, expected ${iw * ih * 3}`);
  return { pixels, box };
}

/** A JPEG of the working copy, longest side at most 640 px. */
export async function snapshotJpeg(img: WorkingImage, maxSide = SNAPSHOT_MAX_SIDE): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: SNAPSHOT_QUALITY })
    .toBuffer();
}
