import { formatRate } from "./format";
import type { Sample } from "./history";
import { LineChart } from "./LineChart";
import { summarize, totalRate, type RateSummary } from "./throughput";
import { numClass, Section, TableScroll, tableClass, tdClass, thClass } from "./ui";

function sentence(what: string, s: RateSummary, minutes: number): string {
  if (s.now === null) return `${what}: no measurements yet in the last ${minutes} minutes.`;
  return (
    `${what}, last ${minutes} minutes: now ${formatRate(s.now)}, ` +
    `average ${formatRate(s.average)}, peak ${formatRate(s.peak)}.`
  );
}

/** Entries delivered per second to the consumer groups, all streams and per stream. */
export function ThroughputPanel({
  history,
  now,
  windowMs,
}: {
  history: Sample[];
  now: number;
  windowMs: number;
}) {
  const minutes = Math.round(windowMs / 60_000);
  const totals = history.map((s) => ({ at: s.at, value: totalRate(s.rates) }));
  const total = summarize(totals.map((p) => p.value));
  const streams = [...new Set(history.flatMap((s) => Object.keys(s.rates)))];
  const perStream = streams.map((stream) => ({
    stream,
    ...summarize(history.map((s) => s.rates[stream] ?? null)),
  }));
  return (
    <Section
      id="throughput"
      title="Throughput"
      description="Entries delivered to consumer groups per second (a stream read by two groups counts twice)."
    >
      <p className="mb-2 text-sm">
        All streams: <strong className="tabular-nums">{formatRate(total.now)}</strong> now · peak{" "}
        <span className="tabular-nums">{formatRate(total.peak)}</span>
      </p>
      <LineChart
        points={totals}
        now={now}
        windowMs={windowMs}
        unit="/s"
        summary={sentence("Entries delivered per second, all streams", total, minutes)}
      />
      <TableScroll label="Throughput per stream, scrolls sideways">
        <table aria-label="Throughput per stream" className={`${tableClass} mt-4`}>
          <thead>
            <tr>
              <th scope="col" className={thClass}>
                Stream
              </th>
              <th scope="col" className={`${thClass} ${numClass}`}>
                Now
              </th>
              <th scope="col" className={`${thClass} ${numClass}`}>
                Average ({minutes} min)
              </th>
              <th scope="col" className={`${thClass} ${numClass}`}>
                Peak ({minutes} min)
              </th>
            </tr>
          </thead>
          <tbody>
            {perStream.map((row) => (
              <tr key={row.stream}>
                <th scope="row" className={`${tdClass} text-left font-mono font-normal`}>
                  {row.stream}
                </th>
                <td className={`${tdClass} ${numClass}`}>{formatRate(row.now)}</td>
                <td className={`${tdClass} ${numClass}`}>{formatRate(row.average)}</td>
                <td className={`${tdClass} ${numClass}`}>{formatRate(row.peak)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </Section>
  );
}
