import type { TimelineEntry } from "../tracking/protocol";
import { formatDateTime, formatTime, REASON_LABELS, STATUS_LABELS } from "./format";
import { muted } from "./ui";

/** One item per status the order went through; the last is the current step. */
export function Timeline({ entries }: { entries: readonly TimelineEntry[] }) {
  const last = entries.length - 1;
  return (
    <>
      <ol aria-label="Timeline" className="relative ml-2 border-l-2 border-slate-300 dark:border-slate-600">
        {entries.map((entry, index) => {
          const current = index === last;
          const bad = entry.status === "cancelled";
          return (
            <li
              key={entry.version}
              aria-current={current ? "step" : undefined}
              data-status={entry.status}
              className="relative mb-4 pl-5 last:mb-0"
            >
              <span
                aria-hidden="true"
                className={`absolute top-1.5 -left-[7px] h-3 w-3 rounded-full ${
                  bad ? "bg-red-600" : current ? "bg-indigo-600 ring-4 ring-indigo-200 dark:ring-indigo-900" : "bg-slate-400"
                }`}
              />
              <p className={current ? "font-semibold" : ""}>
                {STATUS_LABELS[entry.status]}
                {current && <span className="sr-only"> (current step)</span>}
              </p>
              <p className={`text-sm ${muted}`}>
                <time dateTime={entry.at} title={formatDateTime(entry.at)}>
                  {formatTime(entry.at)}
                </time>
              </p>
              {entry.reason && <p className="text-sm text-red-700 dark:text-red-400">{REASON_LABELS[entry.reason]}</p>}
            </li>
          );
        })}
      </ol>
      {entries.length === 0 && <p className={`text-sm ${muted}`}>Waiting for the first update…</p>}
    </>
  );
}
