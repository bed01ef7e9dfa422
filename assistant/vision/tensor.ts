/** Pixel layout conversion, shared by the inference worker (kept free of sharp so workers stay small). */

/**
 * Interleaved RGB bytes (HWC) -> planar float32 (CHW) in the model's channel order, each value times `scale`.
 * Writes into `out` when given (length 3 * width * height).
 */
export function toChw(rgb: Uint8Array, width: number, height: number, channels: 'rgb' | 'bgr', scale: number, out?: Float32Array): Float32Array {
  const plane = width * height;
  if (rgb.length !== plane * 3) throw new Error(`expected ${plane * 3} RGB bytes, got ${rgb.length}`);
  const t = out ?? new Float32Array(plane * 3);
  const [r, b] = channels === 'rgb' ? [0, 2 * plane] : [2 * plane, 0];
  const g = plane;
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    t[r + i] = rgb[j] * scale;
    t[g + i] = rgb[j + 1] * scale;
    t[b + i] = rgb[j + 2] * scale;
  }
  return t;
}
