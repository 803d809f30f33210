import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState } from "react";
import type { OpsApi, Selection } from "./api";
import { formatAge, formatClock, formatCount, humanize } from "./format";
import { messageType, payloadText, preview } from "./preview";
import type { DeadLetter } from "./types";
import { buttonClass, numClass, Section, TableScroll, tableClass, tdClass, thClass } from "./ui";

export const DLQ_LIMIT = 200;
export const DLQ_REFRESH_MS = 15_000;

type Action = { kind: "replay" | "purge"; selection: Selection; count: number };

const plural = (n: number) => `${formatCount(n)} dead letter${n === 1 ? "" : "s"}`;

function describeDone({ kind, selection }: Action, done: number): string {
  return kind === "replay"
    ? `Replayed ${plural(done)} into ${selection.stream}.`
    : `Purged ${plural(done)} of ${selection.stream}.`;
}

function byStream(letters: DeadLetter[]): Map<string, DeadLetter[]> {
  const groups = new Map<string, DeadLetter[]>();
  for (const letter of letters) {
    groups.set(letter.stream, [...(groups.get(letter.stream) ?? []), letter]);
  }
  return groups;
}

function ConfirmPurge({
  action,
  busy,
  onConfirm,
  onCancel,
}: {
  action: Action;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const titleId = useId();
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => cancelRef.current?.focus(), []);
  const what = action.selection.ids
    ? `dead letter ${action.selection.ids.join(", ")}`
    : `all ${plural(action.count)}`;
  return (
    <div
      role="alertdialog"
      aria-labelledby={titleId}
      onKeyDown={(e) => e.key === "Escape" && onCancel()}
      className="my-2 rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-950 dark:border-red-800 dark:bg-red-950 dark:text-red-50"
    >
      <p id={titleId} className="font-medium">
        Purge {what} of {action.selection.stream}? They are deleted for good and never processed.
      </p>
      <div className="mt-2 flex flex-wrap gap-2">
        <button type="button" className={buttonClass.danger} disabled={busy} onClick={onConfirm}>
          Purge for good
        </button>
        <button type="button" ref={cancelRef} className={buttonClass.secondary} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function LetterRow({
  letter,
  busy,
  onAction,
}: {
  letter: DeadLetter;
  busy: boolean;
  onAction: (action: Action) => void;
}) {
  const selection = { stream: letter.stream, ids: [letter.dlq_id] };
  const type = messageType(letter.fields);
  return (
    <tr>
      <td className={`${tdClass} font-mono`}>{letter.group}</td>
      <td className={`${tdClass} font-mono whitespace-nowrap`}>{letter.original_id}</td>
      <td className={tdClass}>
        <span className="font-medium">{humanize(letter.reason)}</span>
        <span className="block max-w-xs break-words text-slate-700 dark:text-slate-300">
          {letter.error}
        </span>
        {letter.error_type && (
          <span className="block font-mono text-xs">
            {letter.error_type}
          </span>
        )}
        {letter.traceback && (
          <details>
            <summary className="cursor-pointer text-xs">
              Traceback of {letter.error_type || "the error"}
            </summary>
            <pre className="mt-1 max-h-60 max-w-md overflow-auto rounded bg-slate-100 p-2 text-xs dark:bg-slate-800">
              {letter.traceback}
            </pre>
          </details>
        )}
      </td>
      <td className={`${tdClass} ${numClass}`}>{formatCount(letter.deliveries)}</td>
      <td className={`${tdClass} whitespace-nowrap`}>
        <time dateTime={letter.at} title={letter.at}>
          {formatClock(letter.at)}
        </time>
        <span className="block text-xs text-slate-600 dark:text-slate-400">
          {formatAge(letter.at)}
        </span>
      </td>
      <td className={`${tdClass} max-w-sm`}>
        {type && <span className="block font-mono text-xs font-semibold">{type}</span>}
        <details>
          <summary className="cursor-pointer break-all font-mono text-xs">
            {preview(letter.fields)}
          </summary>
          <pre className="mt-1 max-h-60 overflow-auto rounded bg-slate-100 p-2 text-xs dark:bg-slate-800">
            {payloadText(letter.fields, true)}
          </pre>
        </details>
      </td>
      <td className={tdClass}>
        <div className="flex gap-1">
          <button
            type="button"
            className={buttonClass.secondary}
            disabled={busy}
            aria-label={`Replay dead letter ${letter.dlq_id} of ${letter.stream}`}
            onClick={() => onAction({ kind: "replay", selection, count: 1 })}
          >
            Replay
          </button>
          <button
            type="button"
            className={buttonClass.secondary}
            disabled={busy}
            aria-label={`Purge dead letter ${letter.dlq_id} of ${letter.stream}`}
            onClick={() => onAction({ kind: "purge", selection, count: 1 })}
          >
            Purge…
          </button>
        </div>
      </td>
    </tr>
  );
}

/**
 * The dead letters per stream, with replay (appends the entry to its stream again) and purge
 * (after a confirmation), one entry or all of a stream.
 */
export function DeadLettersPanel({
  api,
  counts,
}: {
  api: OpsApi;
  /** Dead letters per stream from the latest stream stats; null before the first. */
  counts: Record<string, number> | null;
}) {
  const total = counts ? Object.values(counts).reduce((a, b) => a + b, 0) : null;
  const client = useQueryClient();
  const letters = useQuery({
    queryKey: ["ops", "dlq"],
    queryFn: () => api.deadLetters(DLQ_LIMIT),
    refetchInterval: DLQ_REFRESH_MS,
  });
  const [confirming, setConfirming] = useState<Action | null>(null);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);

  // The live feed counts dead letters every tick: fetch the list again when the count moves.
  const seenTotal = useRef(total);
  useEffect(() => {
    if (total !== null && seenTotal.current !== null && total !== seenTotal.current) {
      void client.invalidateQueries({ queryKey: ["ops", "dlq"] });
    }
    seenTotal.current = total;
  }, [total, client]);

  const run = useMutation({
    mutationFn: async (action: Action) =>
      action.kind === "replay"
        ? (await api.replay(action.selection)).replayed
        : (await api.purge(action.selection)).purged,
    onSuccess: (done, action) => setNotice({ ok: true, text: describeDone(action, done) }),
    onError: (error, action) =>
      setNotice({ ok: false, text: `Could not ${action.kind}: ${error.message}` }),
    onSettled: () => {
      setConfirming(null);
      return client.invalidateQueries({ queryKey: ["ops"] });
    },
  });

  const act = (action: Action) => {
    setNotice(null);
    if (action.kind === "purge") setConfirming(action);
    else run.mutate(action);
  };

  const list = letters.data ?? [];
  const shown = byStream(list);
  return (
    <Section
      id="dead-letters"
      title="Dead letters"
      description="Entries a consumer group gave up on. Replay appends an entry to its stream again (every group of that stream reads it); purge deletes it."
    >
      <div aria-live="polite" className="min-h-0">
        {notice && (
          <p
            className={`mb-3 rounded-md p-2 text-sm ${notice.ok ? "bg-emerald-50 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-100" : "bg-red-50 text-red-900 dark:bg-red-950 dark:text-red-100"}`}
          >
            {notice.text}
          </p>
        )}
      </div>
      {letters.isPending && <p>Loading dead letters…</p>}
      {letters.isError && (
        <p role="alert" className="text-red-700 dark:text-red-300">
          Could not load dead letters: {letters.error.message}
        </p>
      )}
      {letters.isSuccess && list.length === 0 && (
        <p className="text-slate-700 dark:text-slate-300">
          No dead letters — every entry was handled.
        </p>
      )}
      {total !== null && total > list.length && list.length > 0 && (
        <p className="mb-2 text-sm">
          Showing the oldest {formatCount(list.length)} of {formatCount(total)}.
        </p>
      )}
      <div className="space-y-6">
        {[...shown].map(([stream, entries]) => {
          const all = { stream };
          const count = Math.max(counts?.[stream] ?? 0, entries.length);
          const headingId = `dlq-${stream.replace(/[^a-z0-9]+/gi, "-")}`;
          return (
            <section key={stream} aria-labelledby={headingId}>
              <div className="mb-2 flex flex-wrap items-center gap-2">
                <h3 id={headingId} className="mr-auto font-mono font-semibold">
                  {stream} <span className="font-sans font-normal">— {plural(count)}</span>
                </h3>
                <button
                  type="button"
                  className={buttonClass.primary}
                  disabled={run.isPending}
                  onClick={() => act({ kind: "replay", selection: all, count })}
                >
                  Replay all {formatCount(count)} of {stream}
                </button>
                <button
                  type="button"
                  className={buttonClass.secondary}
                  disabled={run.isPending}
                  onClick={() => act({ kind: "purge", selection: all, count })}
                >
                  Purge all {formatCount(count)} of {stream}…
                </button>
              </div>
              {confirming?.selection.stream === stream && (
                <ConfirmPurge
                  action={confirming}
                  busy={run.isPending}
                  onConfirm={() => run.mutate(confirming)}
                  onCancel={() => setConfirming(null)}
                />
              )}
              <TableScroll label={`Dead letters of ${stream}, scrolls sideways`}>
                <table aria-label={`Dead letters of ${stream}`} className={tableClass}>
                  <thead>
                    <tr>
                      <th scope="col" className={thClass}>
                        Group
                      </th>
                      <th scope="col" className={thClass}>
                        Entry id
                      </th>
                      <th scope="col" className={thClass}>
                        Reason and error
                      </th>
                      <th scope="col" className={`${thClass} ${numClass}`}>
                        Deliveries
                      </th>
                      <th scope="col" className={thClass}>
                        Dead-lettered
                      </th>
                      <th scope="col" className={thClass}>
                        Payload
                      </th>
                      <th scope="col" className={thClass}>
                        Actions
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {entries.map((letter) => (
                      <LetterRow
                        key={letter.dlq_id}
                        letter={letter}
                        busy={run.isPending}
                        onAction={act}
                      />
                    ))}
                  </tbody>
                </table>
              </TableScroll>
            </section>
          );
        })}
      </div>
    </Section>
  );
}
