import type { ReactNode } from "react";
import type { Severity } from "./health";

export const focusRing =
  "focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 dark:focus-visible:outline-indigo-400";

const buttonBase = `inline-flex items-center justify-center gap-1 rounded-md px-3 py-1.5 text-sm font-medium disabled:cursor-not-allowed disabled:opacity-60 ${focusRing}`;

export const buttonClass = {
  primary: `${buttonBase} bg-indigo-600 text-white hover:bg-indigo-700 dark:bg-indigo-400 dark:text-slate-950 dark:hover:bg-indigo-300`,
  secondary: `${buttonBase} border border-slate-300 bg-white text-slate-800 hover:bg-slate-100 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100 dark:hover:bg-slate-800`,
  danger: `${buttonBase} bg-red-700 text-white hover:bg-red-800 dark:bg-red-400 dark:text-slate-950 dark:hover:bg-red-300`,
};

export function Section({
  id,
  title,
  description,
  actions,
  children,
}: {
  id: string;
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
}) {
  return (
    <section
      aria-labelledby={`${id}-title`}
      className="min-w-0 rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
    >
      <div className="mb-3 flex flex-wrap items-start justify-between gap-2">
        <div>
          <h2 id={`${id}-title`} className="text-lg font-semibold">
            {title}
          </h2>
          {description && (
            <p className="text-sm text-slate-600 dark:text-slate-400">{description}</p>
          )}
        </div>
        {actions}
      </div>
      {children}
    </section>
  );
}

const badgeTone: Record<Severity, string> = {
  ok: "bg-emerald-100 text-emerald-900 dark:bg-emerald-900/60 dark:text-emerald-100",
  warning: "bg-amber-100 text-amber-900 dark:bg-amber-900/60 dark:text-amber-100",
  problem: "bg-red-100 text-red-900 dark:bg-red-900/60 dark:text-red-100",
};

const badgeIcon: Record<Severity, string> = { ok: "✓", warning: "▲", problem: "✖" };

/** A status pill: the icon and text carry the meaning, the colour only repeats it. */
export function Badge({ severity, children }: { severity: Severity; children: ReactNode }) {
  return (
    <span
      className={`inline-flex items-center gap-1 whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ${badgeTone[severity]}`}
    >
      <span aria-hidden="true">{badgeIcon[severity]}</span>
      {children}
    </span>
  );
}

export const tableClass = "w-full border-collapse text-sm";
export const thClass =
  "border-b border-slate-200 px-2 py-2 text-left font-semibold text-slate-700 dark:border-slate-700 dark:text-slate-300";
export const tdClass = "border-b border-slate-100 px-2 py-2 align-top dark:border-slate-800";
export const numClass = "text-right tabular-nums";

/** Wide tables scroll sideways on a phone instead of squeezing the page. */
export function TableScroll({ children, label }: { children: ReactNode; label: string }) {
  return (
    // A scrollable region must be reachable with the keyboard.
    <div className="overflow-x-auto" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}
