import type { FeedStatus } from "./feed";
import { useNow } from "./hooks";

export const POLL_SECONDS = 5;

const LOST = { tone: "bg-red-500", text: `Live feed lost — polling every ${POLL_SECONDS} s` };

function label(status: FeedStatus): { tone: string; text: string } {
  switch (status.state) {
    case "live":
      return { tone: "bg-emerald-500", text: "Live" };
    case "connecting":
      // The announced text stays the same while reconnect attempts come and go.
      return status.retrying
        ? LOST
        : { tone: "bg-amber-500", text: "Connecting to the live feed…" };
    case "waiting":
      return LOST;
    case "unauthorized":
      return { tone: "bg-red-500", text: "Operator key refused" };
    case "stopped":
      return { tone: "bg-slate-400", text: "Not connected" };
  }
}

function Countdown({ retryAt }: { retryAt: number }) {
  const now = useNow(1000);
  const seconds = Math.max(0, Math.ceil((retryAt - now) / 1000));
  return <span className="text-slate-600 dark:text-slate-400">, retry in {seconds} s</span>;
}

/** The feed's state; the seconds-to-retry countdown is visual only so it is not announced
 * every second. */
export function ConnectionIndicator({ status }: { status: FeedStatus }) {
  const { tone, text } = label(status);
  return (
    <p className="inline-flex items-center gap-2 rounded-full border border-slate-200 px-3 py-1 text-sm dark:border-slate-700">
      <span aria-hidden="true" className={`inline-block h-2.5 w-2.5 rounded-full ${tone}`} />
      <span role="status">{text}</span>
      {status.state === "waiting" && (
        <span aria-hidden="true">
          <Countdown retryAt={status.retryAt} />
        </span>
      )}
      {status.state === "connecting" && status.retrying && (
        <span aria-hidden="true" className="text-slate-600 dark:text-slate-400">
          , reconnecting…
        </span>
      )}
    </p>
  );
}
