import { linePath, niceMax, type Point } from "./chart";

const WIDTH = 600;
const HEIGHT = 160;

/**
 * A line over the last `windowMs`. The plot stretches to its box; the axis labels are HTML so
 * they stay readable at any width. `summary` is the accessible description of the data.
 */
export function LineChart({
  points,
  now,
  windowMs,
  unit,
  summary,
}: {
  points: Point[];
  now: number;
  windowMs: number;
  unit: string;
  summary: string;
}) {
  const peak = Math.max(0, ...points.map((p) => p.value ?? 0));
  const max = niceMax(peak);
  const path = linePath(points, {
    start: now - windowMs,
    end: now,
    max,
    width: WIDTH,
    height: HEIGHT,
  });
  const minutes = Math.round(windowMs / 60_000);
  return (
    <div className="grid grid-cols-[auto_1fr] gap-x-2 text-xs text-slate-600 dark:text-slate-400">
      <div className="flex flex-col justify-between text-right tabular-nums" aria-hidden="true">
        <span>
          {max} {unit}
        </span>
        <span>{max / 2}</span>
        <span>0</span>
      </div>
      <svg
        role="img"
        aria-label={summary}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        className="h-40 w-full rounded border border-slate-200 bg-slate-50 dark:border-slate-700 dark:bg-slate-950"
      >
        {[0.25, 0.5, 0.75].map((f) => (
          <line
            key={f}
            x1={0}
            x2={WIDTH}
            y1={HEIGHT * f}
            y2={HEIGHT * f}
            className="stroke-slate-200 dark:stroke-slate-800"
            vectorEffect="non-scaling-stroke"
          />
        ))}
        {path && (
          <path
            d={path}
            fill="none"
            strokeWidth={2}
            strokeLinejoin="round"
            vectorEffect="non-scaling-stroke"
            className="stroke-indigo-600 dark:stroke-indigo-400"
          />
        )}
      </svg>
      <div aria-hidden="true" />
      <div className="flex justify-between" aria-hidden="true">
        <span>{minutes} min ago</span>
        <span>now</span>
      </div>
    </div>
  );
}
