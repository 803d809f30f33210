import type { TrackerView } from "../tracking/connection";

function describe(view: TrackerView): string {
  switch (view.connection) {
    case "connecting":
      return "Connecting…";
    case "live":
      return "Live";
    case "reconnecting":
      return view.retryInMs !== null && view.retryInMs > 0
        ? `Connection lost — reconnecting in ${Math.ceil(view.retryInMs / 1000)} s`
        : "Reconnecting…";
    case "closed":
      switch (view.closedReason) {
        case "terminal":
          return "Final status — no more updates";
        case "not_found":
        case "unauthorized":
          return "Closed — the tracking token was not accepted";
        default:
          return "Closed";
      }
  }
}

const DOT: Record<TrackerView["connection"], string> = {
  connecting: "bg-amber-500",
  live: "bg-green-600",
  reconnecting: "bg-amber-500 animate-pulse motion-reduce:animate-none",
  closed: "bg-slate-500",
};

export function ConnectionIndicator({ view }: { view: TrackerView }) {
  return (
    <p
      data-testid="connection"
      data-state={view.connection}
      className="inline-flex items-center gap-2 rounded-full border border-slate-300 px-3 py-1 text-sm dark:border-slate-600"
    >
      <span aria-hidden="true" className={`h-2.5 w-2.5 rounded-full ${DOT[view.connection]}`} />
      <span>
        <span className="sr-only">Live updates: </span>
        {describe(view)}
      </span>
    </p>
  );
}
