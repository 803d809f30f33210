import { formatCount, formatDuration, formatRate } from "./format";
import { groupIssues, streamIssues, worst, GROWTH_MIN, type Issue, type Severity } from "./health";
import type { Sample } from "./history";
import type { GroupView, StreamView, Throughput } from "./types";
import { Badge, numClass, TableScroll, tableClass, tdClass, thClass } from "./ui";

const rowTone: Record<Severity, string> = {
  ok: "",
  warning: "bg-amber-50 dark:bg-amber-950/40",
  problem: "bg-red-50 dark:bg-red-950/40",
};

function Issues({ issues }: { issues: Issue[] }) {
  if (!issues.length) return <Badge severity="ok">OK</Badge>;
  return (
    <ul className="flex flex-wrap gap-1">
      {issues.map((issue) => (
        <li key={issue.text}>
          <Badge severity={issue.severity}>{issue.text}</Badge>
        </li>
      ))}
    </ul>
  );
}

function GroupRow({
  stream,
  group,
  first,
  span,
  ownIssues,
  sharedIssues,
  rate,
}: {
  stream: StreamView;
  group: GroupView | null;
  first: boolean;
  span: number;
  ownIssues: Issue[];
  sharedIssues: Issue[];
  rate: number | null | undefined;
}) {
  const issues = [...(first ? sharedIssues : []), ...ownIssues];
  const severity = worst([...sharedIssues, ...ownIssues]);
  return (
    <tr className={rowTone[severity]} data-severity={severity}>
      {first && (
        <>
          <th
            scope="rowgroup"
            rowSpan={span}
            className={`${tdClass} text-left font-mono font-medium`}
          >
            {stream.stream}
          </th>
          <td rowSpan={span} className={`${tdClass} ${numClass}`}>
            {formatCount(stream.length)}
          </td>
          <td
            rowSpan={span}
            className={`${tdClass} ${numClass} ${stream.dead_letters > 0 ? "font-bold text-red-800 dark:text-red-200" : ""}`}
          >
            {formatCount(stream.dead_letters)}
            {stream.dead_letters > 0 && stream.dead_letters_oldest_age_s !== null && (
              <div className="text-xs font-normal">
                oldest {formatDuration(stream.dead_letters_oldest_age_s)}
              </div>
            )}
          </td>
        </>
      )}
      <td className={`${tdClass} font-mono`}>{group?.group ?? "no consumer group"}</td>
      <td className={`${tdClass} ${numClass}`}>{formatCount(group?.consumers)}</td>
      <td className={`${tdClass} ${numClass}`}>{formatCount(group?.lag)}</td>
      <td className={`${tdClass} ${numClass}`}>{formatCount(group?.pending)}</td>
      <td className={`${tdClass} ${numClass}`}>{formatRate(rate)}</td>
      <td className={tdClass}>
        <Issues issues={issues} />
      </td>
    </tr>
  );
}

/** One row per stream and consumer group; rows with a problem are tinted and say why. */
export function StreamsTable({
  streams,
  history,
  groupRates,
}: {
  streams: StreamView[];
  history: Sample[];
  groupRates: Throughput;
}) {
  return (
    <>
      <TableScroll label="Streams table, scrolls sideways">
        <table aria-label="Streams" className={tableClass}>
          <thead>
            <tr>
              <th scope="col" className={thClass}>
                Stream
              </th>
              <th scope="col" className={`${thClass} ${numClass}`}>
                Length
              </th>
              <th scope="col" className={`${thClass} ${numClass}`}>
                Dead letters
              </th>
              <th scope="col" className={thClass}>
                Consumer group
              </th>
              <th scope="col" className={`${thClass} ${numClass}`}>
                Consumers
              </th>
              <th scope="col" className={`${thClass} ${numClass}`}>
                Lag
              </th>
              <th scope="col" className={`${thClass} ${numClass}`}>
                Pending
              </th>
              <th scope="col" className={`${thClass} ${numClass}`}>
                Throughput
              </th>
              <th scope="col" className={thClass}>
                Status
              </th>
            </tr>
          </thead>
          {streams.map((stream) => {
            const shared = streamIssues(stream);
            const groups: (GroupView | null)[] = stream.groups.length ? stream.groups : [null];
            return (
              <tbody key={stream.stream}>
                {groups.map((group, i) => (
                  <GroupRow
                    key={group?.group ?? ""}
                    stream={stream}
                    group={group}
                    first={i === 0}
                    span={groups.length}
                    sharedIssues={shared}
                    ownIssues={group ? groupIssues(stream.stream, group, history) : []}
                    rate={group ? groupRates[stream.stream]?.[group.group] : null}
                  />
                ))}
              </tbody>
            );
          })}
        </table>
      </TableScroll>
      <p className="mt-2 text-xs text-slate-600 dark:text-slate-400">
        Length, dead letters, lag (not yet delivered to the group) and pending (delivered, not yet
        acknowledged) count entries; throughput is entries delivered to the group per second.
        “Growing” means at least {GROWTH_MIN} more than 10–30 s earlier.
        {streams[0] && (
          <>
            {" "}
            Dead letters are kept {formatDuration(streams[0].dead_letters_max_age_s)}, at most{" "}
            {formatCount(streams[0].dead_letters_max_len)} per stream.
          </>
        )}
      </p>
    </>
  );
}
