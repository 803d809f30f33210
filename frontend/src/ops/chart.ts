// Geometry for the hand-rolled SVG charts (pure, so it is tested without a DOM).

export type Point = { at: number; value: number | null };

/** A round axis maximum at or above `peak`: 1, 2, 5 × 10^n (never 0). */
export function niceMax(peak: number): number {
  if (!(peak > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(peak));
  for (const step of [1, 2, 5, 10]) {
    if (peak <= step * magnitude) return step * magnitude;
  }
  return 10 * magnitude;
}

/**
 * SVG path data for a line over a time window, in a `width` × `height` box. Unknown values
 * break the line instead of being drawn as zero.
 */
export function linePath(
  points: Point[],
  {
    start,
    end,
    max,
    width,
    height,
  }: {
    start: number;
    end: number;
    max: number;
    width: number;
    height: number;
  },
): string {
  const span = Math.max(1, end - start);
  const x = (at: number) => (((at - start) / span) * width).toFixed(1);
  const y = (value: number) => (height - (Math.min(value, max) / max) * height).toFixed(1);
  let path = "";
  let drawing = false;
  for (const { at, value } of points) {
    if (value === null || at < start) {
      drawing = false;
      continue;
    }
    path += `${drawing ? "L" : "M"}${x(at)},${y(value)} `;
    drawing = true;
  }
  return path.trim();
}
