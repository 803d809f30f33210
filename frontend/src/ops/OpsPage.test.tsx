import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { CLOSE_UNAUTHORIZED } from "./feed";
import { OpsPage, REFUSED_NOTICE } from "./OpsPage";
import {
  FakeSocket,
  fakeFetch,
  outcomes,
  recentOrder,
  renderWithClient,
  stats,
  stream,
} from "./test-utils";

const STORAGE_KEY = "orders-saga.operator-key";
const GOOD = "good-key";

/** The operator API accepting only GOOD. */
function backend() {
  const guard = (body: unknown) => (call: { key: string | null }) =>
    call.key === GOOD
      ? { body }
      : { status: 401, body: { detail: "missing or wrong operator key" } };
  return fakeFetch({
    "GET /api/ops/streams": guard([
      stream("payments.events", [{ group: "orders", lag: 2 }], { length: 42 }),
    ]),
    "GET /api/ops/outcomes": guard(outcomes),
    "GET /api/ops/dlq": guard([]),
    "GET /api/ops/orders/recent": guard([recentOrder("4cbb60f047774341a6377fffddec9b9f", "paid")]),
  });
}

const page = () => renderWithClient(<OpsPage createSocket={FakeSocket.create} />);

beforeEach(() => {
  FakeSocket.all = [];
  localStorage.clear();
});
afterEach(() => vi.unstubAllGlobals());

describe("operator key", () => {
  it("asks for the key, keeps it and shows the dashboard", async () => {
    const { calls } = backend();
    page();
    expect(screen.queryByRole("table", { name: "Streams" })).toBeNull();
    await userEvent.type(screen.getByLabelText("Operator key"), GOOD);
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));

    expect(localStorage.getItem(STORAGE_KEY)).toBe(GOOD);
    expect(FakeSocket.latest().url).toBe(`ws://${location.host}/ws/ops?key=${GOOD}`);
    const orders = await screen.findByRole("table", { name: "Recent orders" });
    expect(within(orders).getByText("4cbb60f047774341a6377fffddec9b9f")).toBeInTheDocument();
    expect(await screen.findByRole("table", { name: "Streams" })).toHaveTextContent(
      "payments.events",
    );
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.key === GOOD)).toBe(true);
  });

  it("insists on a non-empty key", async () => {
    backend();
    page();
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(screen.getByText("Enter the operator key.")).toBeInTheDocument();
    expect(screen.getByLabelText("Operator key")).toHaveAttribute("aria-invalid", "true");
    expect(localStorage.getItem(STORAGE_KEY)).toBeNull();
  });

  it("uses a stored key without asking", async () => {
    backend();
    localStorage.setItem(STORAGE_KEY, GOOD);
    page();
    expect(await screen.findByRole("table", { name: "Recent orders" })).toBeInTheDocument();
    expect(screen.queryByLabelText("Operator key")).toBeNull();
  });

  it("forgets a refused key (HTTP 401) and asks again with a message", async () => {
    backend();
    localStorage.setItem(STORAGE_KEY, "stale-key");
    page();
    expect(await screen.findByRole("alert")).toHaveTextContent(REFUSED_NOTICE);
    expect(screen.getByLabelText("Operator key")).toHaveValue("");
    expect(localStorage.getItem(STORAGE_KEY)).toBeNull();

    await userEvent.type(screen.getByLabelText("Operator key"), GOOD);
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("table", { name: "Recent orders" })).toBeInTheDocument();
    expect(screen.queryByText(REFUSED_NOTICE)).toBeNull();
  });

  it("forgets a key the live feed refuses (close 4401)", async () => {
    // HTTP accepts it, the socket does not: the key was rotated between the two.
    backend();
    localStorage.setItem(STORAGE_KEY, GOOD);
    page();
    await screen.findByRole("table", { name: "Recent orders" });
    act(() => FakeSocket.latest().serverClose(CLOSE_UNAUTHORIZED, "operator key required"));
    expect(await screen.findByRole("alert")).toHaveTextContent(REFUSED_NOTICE);
    expect(localStorage.getItem(STORAGE_KEY)).toBeNull();
  });

  it("forgets the key on request", async () => {
    backend();
    localStorage.setItem(STORAGE_KEY, GOOD);
    page();
    await userEvent.click(await screen.findByRole("button", { name: "Forget key" }));
    expect(screen.getByLabelText("Operator key")).toBeInTheDocument();
    expect(screen.queryByRole("alert")).toBeNull();
    expect(localStorage.getItem(STORAGE_KEY)).toBeNull();
  });
});

describe("live feed and polling", () => {
  it("shows the live feed's numbers and stops polling while it is live", async () => {
    const { calls } = backend();
    localStorage.setItem(STORAGE_KEY, GOOD);
    page();
    await screen.findByRole("table", { name: "Streams" });
    const socket = FakeSocket.latest();
    act(() => socket.open());
    expect(await screen.findByText("Live")).toBeInTheDocument();
    const polls = calls.filter((c) => c.url === "/api/ops/streams").length;

    act(() =>
      socket.send(
        stats(
          [
            stream("kitchen.commands", [{ group: "kitchen", lag: 0, pending: 3 }], {
              length: 777,
              dead_letters: 2,
            }),
          ],
          {
            "kitchen.commands": { kitchen: 4.25 },
          },
        ),
      ),
    );
    const table = screen.getByRole("table", { name: "Streams" });
    await waitFor(() => expect(table).toHaveTextContent("kitchen.commands"));
    expect(table).toHaveTextContent("777");
    expect(table).toHaveTextContent("4.3/s");
    expect(table).toHaveTextContent("2 dead letters");
    expect(
      screen.getByRole("img", { name: /all streams, last 5 minutes: now 4\.3\/s/ }),
    ).toBeInTheDocument();
    expect(calls.filter((c) => c.url === "/api/ops/streams")).toHaveLength(polls);
  });

  it("falls back to polling when the feed drops, and says so", async () => {
    const { calls } = backend();
    localStorage.setItem(STORAGE_KEY, GOOD);
    page();
    const socket = FakeSocket.latest();
    act(() => socket.open());
    await screen.findByText("Live");
    const before = calls.filter((c) => c.url === "/api/ops/streams").length;
    act(() => socket.serverClose(1006));
    expect(await screen.findByText("Live feed lost — polling every 5 s")).toBeInTheDocument();
    await waitFor(() =>
      expect(calls.filter((c) => c.url === "/api/ops/streams").length).toBeGreaterThan(before),
    );
    expect(screen.getByRole("table", { name: "Streams" })).toHaveTextContent("payments.events");
  });
});
