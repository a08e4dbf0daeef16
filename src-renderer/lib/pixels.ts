/**
 * Image samples on a canvas, pixel for pixel (SampleImage, DrawCanvas): the layout of a
 * data set's HWC shape at a display size, and the bytes painted into a w × h canvas.
 */

export interface ImageLayout {
  h: number;
  w: number;
  /** Values per pixel in the buffer (1 grey, 3 RGB). */
  channels: number;
  /** CSS pixels per image pixel: a whole factor up to `size`, or a fit into it when the image is larger. */
  scale: number;
}

export function imageLayout(shape: readonly number[], size: number): ImageLayout {
  const h = Math.max(1, shape[0] ?? 1);
  const w = Math.max(1, shape[1] ?? 1);
  const side = Math.max(h, w);
  return { h, w, channels: Math.max(1, shape[2] ?? 1), scale: side <= size ? Math.max(1, Math.floor(size / side)) : size / side };
}

/** Ink on the theme's background, for grey images whose 0 is the background (MNIST-style sets). */
const INK = {
  light: { background: [255, 255, 255], ink: [22, 26, 33] },
  dark: { background: [24, 28, 36], ink: [236, 239, 244] },
} as const;

/**
 * HWC bytes (0–255) into the canvas: RGB as it is, grey as grey or (`ink`) blended from
 * the theme's background to its ink. `values` null: a transparent canvas.
 */
export function paintImage(ctx: CanvasRenderingContext2D, layout: ImageLayout, values: ArrayLike<number> | null, ink: 'light' | 'dark' | null = null): void {
  const { w, h, channels } = layout;
  const img = ctx.createImageData(w, h); // [h, w, 4] RGBA
  const px = img.data;
  const theme = ink ? INK[ink] : null;
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) {
      const v = values?.[i * channels + (channels === 3 ? c : 0)] ?? 0;
      px[i * 4 + c] = theme ? (theme.background[c] as number) + ((theme.ink[c] as number) - (theme.background[c] as number)) * (v / 255) : v;
    }
    px[i * 4 + 3] = values ? 255 : 0;
  }
  ctx.putImageData(img, 0, 0);
}
