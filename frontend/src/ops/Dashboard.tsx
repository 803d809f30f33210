import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useReducer, useState } from "react";
import { createOpsApi } from "./api";
import { ConnectionIndicator, POLL_SECONDS } from "./ConnectionIndicator";
import { DeadLettersPanel } from "./DeadLettersPanel";
import type { SocketLike } from "./feed";
import { formatCount, formatRate } from "./format";
import { addObservation, WINDOW_MS, type Observation, type Sample } from "./history";
import { useNow, useOpsFeed } from "./hooks";
import { OutcomesPanel } from "./OutcomesPanel";
import { RecentOrdersPanel } from "./RecentOrdersPanel";
import { StreamsTable } from "./StreamsTable";
import { ThroughputPanel } from "./ThroughputPanel";
import { totalRate } from "./throughput";
import type { Outcomes, StreamView } from "./types";
import { buttonClass, Section } from "./ui";

export const POLL_MS = POLL_SECONDS * 1000;

const record = (history: Sample[], observation: Observation) =>
  addObservation(history, observation);

function sum<T>(items: T[], pick: (item: T) => number): number {
  return items.reduce((total, item) => total + pick(item), 0);
}

function totals(streams: StreamView[]) {
  const groups = streams.flatMap((s) => s.groups);
  return {
    lag: sum(groups, (g) => g.lag ?? 0),
    pending: sum(groups, (g) => g.pending),
    deadLetters: sum(streams, (s) => s.dead_letters),
  };
}

function Tile({ label, value, alert }: { label: string; value: string; alert?: boolean }) {
  return (
    <div
      className={`rounded-lg border p-3 ${alert ? "border-red-300 bg-red-50 text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100" : "border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900"}`}
    >
      <dt className="text-xs font-medium uppercase tracking-wide opacity-80">{label}</dt>
      <dd className="text-2xl font-semibold tabular-nums">{value}</dd>
    </div>
  );
}

export function Dashboard({
  operatorKey,
  onUnauthorized,
  onForget,
  createSocket,
}: {
  operatorKey: string;
  onUnauthorized: (key: string) => void;
  onForget: () => void;
  createSocket?: (url: string) => SocketLike;
}) {
  const api = useMemo(
    () => createOpsApi(operatorKey, onUnauthorized),
    [operatorKey, onUnauthorized],
  );
  const [history, observe] = useReducer(record, []);
  const [outcomes, setOutcomes] = useState<Outcomes | null>(null);
  const now = useNow(1000);

  const feed = useOpsFeed(
    operatorKey,
    (stats) => {
      observe({
        source: "feed",
        at: Date.now(),
        streams: stats.streams,
        throughput: stats.throughput,
      });
      setOutcomes(stats.outcomes);
    },
    () => onUnauthorized(operatorKey),
    createSocket,
  );
  // Without the live feed, poll the same numbers.
  const polling = feed.state !== "live";
  const polled = useQuery({
    queryKey: ["ops", "streams"],
    queryFn: api.streams,
    enabled: polling,
    refetchInterval: polling ? POLL_MS : false,
  });
  const polledOutcomes = useQuery({
    queryKey: ["ops", "outcomes"],
    queryFn: api.outcomes,
    enabled: polling,
    refetchInterval: polling ? POLL_MS : false,
  });
  useEffect(() => {
    if (polled.data) observe({ source: "poll", at: polled.dataUpdatedAt, streams: polled.data });
  }, [polled.data, polled.dataUpdatedAt]);
  useEffect(() => {
    if (polledOutcomes.data) setOutcomes(polledOutcomes.data);
  }, [polledOutcomes.data, polledOutcomes.dataUpdatedAt]);

  const latest = history[history.length - 1];
  const streams = latest?.streams ?? null;
  const deadLetters = streams
    ? Object.fromEntries(streams.map((s) => [s.stream, s.dead_letters]))
    : null;
  const total = streams ? totals(streams) : null;

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="mr-auto text-2xl font-bold">Operations</h1>
        <ConnectionIndicator status={feed} />
        <button type="button" className={buttonClass.secondary} onClick={onForget}>
          Forget key
        </button>
      </div>

      <section aria-labelledby="glance-title">
        <h2 id="glance-title" className="sr-only">
          At a glance
        </h2>
        <dl className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-5">
          <Tile label="Throughput" value={formatRate(latest ? totalRate(latest.rates) : null)} />
          <Tile label="Lag (entries)" value={formatCount(total?.lag)} />
          <Tile label="Pending (entries)" value={formatCount(total?.pending)} />
          <Tile
            label="Dead letters"
            value={formatCount(total?.deadLetters)}
            alert={(total?.deadLetters ?? 0) > 0}
          />
          <Tile label="Orders" value={formatCount(outcomes?.total)} />
        </dl>
      </section>

      <Section
        id="streams"
        title="Streams and consumer groups"
        description={
          polling
            ? `Live feed unavailable: refreshed every ${POLL_SECONDS} s.`
            : "Live: refreshed every second."
        }
      >
        {streams ? (
          <StreamsTable streams={streams} history={history} groupRates={latest?.groupRates ?? {}} />
        ) : polled.isError ? (
          <p role="alert" className="text-red-700 dark:text-red-300">
            Could not load stream stats: {polled.error.message}
          </p>
        ) : (
          <p>Loading stream stats…</p>
        )}
      </Section>

      <div className="grid gap-6 lg:grid-cols-2">
        <ThroughputPanel history={history} now={now} windowMs={WINDOW_MS} />
        <OutcomesPanel outcomes={outcomes} />
      </div>

      <DeadLettersPanel api={api} counts={deadLetters} />
      <RecentOrdersPanel api={api} />
    </div>
  );
}
