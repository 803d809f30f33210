import { formatCount } from "./format";

export type Bar = { label: string; value: number; tone?: "neutral" | "good" | "bad" };

const fill: Record<NonNullable<Bar["tone"]>, string> = {
  neutral: "fill-indigo-500 dark:fill-indigo-400",
  good: "fill-emerald-600 dark:fill-emerald-400",
  bad: "fill-red-600 dark:fill-red-400",
};

/**
 * Horizontal bars with their labels and values printed. The picture is one image with a
 * summary for screen readers; the same numbers follow in a visually hidden table.
 */
export function BarChart({
  title,
  bars,
  summary,
  valueHeader,
}: {
  title: string;
  bars: Bar[];
  summary: string;
  valueHeader: string;
}) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  return (
    <figure>
      <figcaption className="mb-2 text-sm font-medium">{title}</figcaption>
      <div role="img" aria-label={summary} className="space-y-1">
        {bars.map((bar) => (
          <div
            key={bar.label}
            className="grid grid-cols-[8.5rem_1fr_3.5rem] items-center gap-2 text-sm"
          >
            <span className="truncate">{bar.label}</span>
            <svg viewBox="0 0 100 10" preserveAspectRatio="none" className="h-3 w-full">
              <rect width={100} height={10} className="fill-slate-100 dark:fill-slate-800" />
              <rect
                width={(bar.value / max) * 100}
                height={10}
                className={fill[bar.tone ?? "neutral"]}
              />
            </svg>
            <span className="text-right tabular-nums">{formatCount(bar.value)}</span>
          </div>
        ))}
      </div>
      <table className="sr-only">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Category</th>
            <th scope="col">{valueHeader}</th>
          </tr>
        </thead>
        <tbody>
          {bars.map((bar) => (
            <tr key={bar.label}>
              <th scope="row">{bar.label}</th>
              <td>{bar.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
