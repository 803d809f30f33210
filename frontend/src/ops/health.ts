import type { Sample } from "./history";
import type { GroupView, StreamView } from "./types";

export type Severity = "ok" | "warning" | "problem";
export type Issue = { severity: Exclude<Severity, "ok">; text: string };

/** A counter is "growing" when it is at least this much higher than TREND_MS ago. */
export const GROWTH_MIN = 5;
export const TREND_MS = 30_000;
/** The reference sample must be at least this old, so one noisy tick is not a trend. */
export const TREND_MIN_SPAN_MS = 10_000;

function reference(history: Sample[], latestAt: number): Sample | undefined {
  return history.find((s) => s.at >= latestAt - TREND_MS && s.at <= latestAt - TREND_MIN_SPAN_MS);
}

type Counter = "lag" | "pending";

export type Growth = { delta: number; spanMs: number };

/** How much `counter` of a group rose since the reference sample; null without one. */
export function growth(
  history: Sample[],
  stream: string,
  group: string,
  counter: Counter,
): Growth | null {
  const latest = history[history.length - 1];
  if (!latest) return null;
  const then = reference(history, latest.at);
  const find = (sample: Sample): GroupView | undefined =>
    sample.streams.find((s) => s.stream === stream)?.groups.find((g) => g.group === group);
  const before = then ? find(then)?.[counter] : undefined;
  const now = find(latest)?.[counter];
  if (!then || before == null || now == null) return null;
  return { delta: now - before, spanMs: latest.at - then.at };
}

export function streamIssues(stream: StreamView): Issue[] {
  const n = stream.dead_letters;
  return n > 0
    ? [{ severity: "problem", text: `${n.toLocaleString("en")} dead letter${n === 1 ? "" : "s"}` }]
    : [];
}

export function groupIssues(stream: string, group: GroupView, history: Sample[]): Issue[] {
  const issues: Issue[] = [];
  const backlog = (group.lag ?? 0) + group.pending;
  if (group.consumers === 0 && backlog > 0) {
    issues.push({ severity: "problem", text: "no consumers" });
  }
  for (const counter of ["lag", "pending"] as const) {
    const rose = growth(history, stream, group.group, counter);
    if (rose && rose.delta >= GROWTH_MIN) {
      const seconds = Math.round(rose.spanMs / 1000);
      issues.push({
        severity: "warning",
        text: `${counter} growing (+${rose.delta.toLocaleString("en")} in ${seconds} s)`,
      });
    }
  }
  return issues;
}

export function worst(issues: Issue[]): Severity {
  if (issues.some((i) => i.severity === "problem")) return "problem";
  return issues.length ? "warning" : "ok";
}
