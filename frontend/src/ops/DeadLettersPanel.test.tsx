import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createOpsApi } from "./api";
import { DeadLettersPanel } from "./DeadLettersPanel";
import type { DeadLetter } from "./types";
import { deadLetter, fakeFetch, renderWithClient } from "./test-utils";

afterEach(() => vi.unstubAllGlobals());

const first = deadLetter({ dlq_id: "1-0", original_id: "10-0" });
const second = deadLetter({ dlq_id: "2-0", original_id: "20-0", group: "orders", error: "boom" });
const kitchen = deadLetter({ dlq_id: "3-0", stream: "kitchen.commands", group: "kitchen" });

/** A dead-letter queue that replay and purge really empty, as the server would. */
function server(initial: DeadLetter[]) {
  let letters = [...initial];
  const remove = (stream: string, ids?: string[]) => {
    const gone = letters.filter((l) => l.stream === stream && (!ids || ids.includes(l.dlq_id)));
    letters = letters.filter((l) => !gone.includes(l));
    return gone.length;
  };
  return fakeFetch({
    "GET /api/ops/dlq": () => ({ body: letters }),
    "POST /api/ops/dlq/replay": ({ body }) => {
      const { stream, ids } = body as { stream: string; ids?: string[] };
      return { body: { replayed: remove(stream, ids) } };
    },
    "POST /api/ops/dlq/purge": ({ body }) => {
      const { stream, ids } = body as { stream: string; ids?: string[] };
      return { body: { purged: remove(stream, ids) } };
    },
  });
}

function show(counts: Record<string, number> | null = null) {
  return renderWithClient(<DeadLettersPanel api={createOpsApi("k", vi.fn())} counts={counts} />);
}

describe("DeadLettersPanel", () => {
  it("lists dead letters per stream with their details", async () => {
    server([first, second, kitchen]);
    show({ "payments.events": 2, "kitchen.commands": 1 });
    const table = await screen.findByRole("table", { name: "Dead letters of payments.events" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent("10-0");
    expect(rows[0]).toHaveTextContent("Unparseable");
    expect(rows[0]).toHaveTextContent("not an envelope");
    expect(rows[0]).toHaveTextContent('{"garbage":"yes"}');
    expect(rows[1]).toHaveTextContent("boom");
    expect(
      screen.getByRole("table", { name: "Dead letters of kitchen.commands" }),
    ).toBeInTheDocument();
    expect(
      screen.getByRole("heading", { name: /payments\.events — 2 dead letters/ }),
    ).toBeInTheDocument();
  });

  it("shows the exception's type and its traceback, for letters that have one", async () => {
    const crashed = deadLetter({
      dlq_id: "4-0",
      original_id: "40-0",
      reason: "timeout",
      error: "handler timed out after 10 s",
      error_type: "TimeoutError",
      error_message: "",
      traceback: 'Traceback (most recent call last):\n  File "kitchen.py", line 7, in on_order\n',
    });
    server([first, crashed]);
    show();
    const table = await screen.findByRole("table", { name: "Dead letters of payments.events" });
    const [old, timedOut] = within(table).getAllByRole("row").slice(1) as [
      HTMLElement,
      HTMLElement,
    ];
    expect(timedOut).toHaveTextContent("TimeoutError");
    const disclosure = within(timedOut).getByText("Traceback of TimeoutError");
    await userEvent.click(disclosure);
    expect(within(timedOut).getByText(/File "kitchen\.py", line 7, in on_order/)).toBeVisible();
    // dead-lettered without an exception, or before these were recorded: no empty disclosure
    expect(within(old).queryByText(/Traceback/)).toBeNull();
  });

  it("replays one entry through the API and shows the refreshed list", async () => {
    const { calls } = server([first, second]);
    show();
    await userEvent.click(
      await screen.findByRole("button", { name: "Replay dead letter 1-0 of payments.events" }),
    );
    expect(
      await screen.findByText("Replayed 1 dead letter into payments.events."),
    ).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "POST")).toEqual([
      {
        url: "/api/ops/dlq/replay",
        method: "POST",
        key: "k",
        body: { stream: "payments.events", ids: ["1-0"] },
      },
    ]);
    await waitFor(() =>
      expect(
        screen.queryByRole("button", { name: "Replay dead letter 1-0 of payments.events" }),
      ).toBeNull(),
    );
    expect(
      screen.getByRole("button", { name: "Replay dead letter 2-0 of payments.events" }),
    ).toBeInTheDocument();
    expect(calls.filter((c) => c.url.startsWith("/api/ops/dlq?")).length).toBeGreaterThanOrEqual(2);
  });

  it("replays all of a stream", async () => {
    const { calls } = server([first, second, kitchen]);
    show({ "payments.events": 2, "kitchen.commands": 1 });
    await userEvent.click(
      await screen.findByRole("button", { name: "Replay all 2 of payments.events" }),
    );
    expect(
      await screen.findByText("Replayed 2 dead letters into payments.events."),
    ).toBeInTheDocument();
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ stream: "payments.events" });
    await waitFor(() =>
      expect(screen.queryByRole("table", { name: "Dead letters of payments.events" })).toBeNull(),
    );
    expect(
      screen.getByRole("table", { name: "Dead letters of kitchen.commands" }),
    ).toBeInTheDocument();
  });

  it("purges only after confirmation", async () => {
    const { calls } = server([first, second]);
    show();
    await userEvent.click(
      await screen.findByRole("button", { name: "Purge all 2 of payments.events…" }),
    );
    let dialog = screen.getByRole("alertdialog");
    expect(dialog).toHaveTextContent("Purge all 2 dead letters of payments.events?");
    expect(within(dialog).getByRole("button", { name: "Cancel" })).toHaveFocus();
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);

    await userEvent.click(
      screen.getByRole("button", { name: "Purge dead letter 2-0 of payments.events" }),
    );
    dialog = screen.getByRole("alertdialog");
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("alertdialog")).toBeNull();

    await userEvent.click(
      screen.getByRole("button", { name: "Purge dead letter 2-0 of payments.events" }),
    );
    dialog = screen.getByRole("alertdialog");
    expect(dialog).toHaveTextContent("Purge dead letter 2-0 of payments.events?");
    await userEvent.click(within(dialog).getByRole("button", { name: "Purge for good" }));
    expect(await screen.findByText("Purged 1 dead letter of payments.events.")).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "POST").map((c) => [c.url, c.body])).toEqual([
      ["/api/ops/dlq/purge", { stream: "payments.events", ids: ["2-0"] }],
    ]);
    await waitFor(() =>
      expect(
        screen.queryByRole("button", { name: "Purge dead letter 2-0 of payments.events" }),
      ).toBeNull(),
    );
  });

  it("says so when a replay fails", async () => {
    fakeFetch({
      "GET /api/ops/dlq": () => ({ body: [first] }),
      "POST /api/ops/dlq/replay": () => ({
        status: 503,
        body: { detail: "temporarily unavailable, retry shortly" },
      }),
    });
    show();
    await userEvent.click(
      await screen.findByRole("button", { name: "Replay all 1 of payments.events" }),
    );
    expect(
      await screen.findByText("Could not replay: temporarily unavailable, retry shortly"),
    ).toBeInTheDocument();
  });

  it("says when there are none", async () => {
    server([]);
    show({ "payments.events": 0 });
    expect(
      await screen.findByText("No dead letters — every entry was handled."),
    ).toBeInTheDocument();
  });
});
