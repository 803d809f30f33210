import { CLOSE_UNAUTHORIZED, OpsFeed, STALE_AFTER_MS, type FeedStatus } from "./feed";
import { FakeSocket, stats, stream } from "./test-utils";

function startFeed() {
  const statuses: FeedStatus[] = [];
  const received: unknown[] = [];
  const onUnauthorized = vi.fn();
  const feed = new OpsFeed({
    url: "ws://host/ws/ops?key=k",
    onStats: (m) => received.push(m),
    onStatus: (s) => statuses.push(s),
    onUnauthorized,
    createSocket: FakeSocket.create,
    delay: (attempt) => 1000 * 2 ** attempt,
    now: () => 0,
  });
  feed.start();
  return { feed, statuses, received, onUnauthorized, last: () => statuses[statuses.length - 1] };
}

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe("OpsFeed", () => {
  it("is live once open and hands over stats messages", () => {
    const { received, last } = startFeed();
    expect(FakeSocket.latest().url).toBe("ws://host/ws/ops?key=k");
    expect(last()).toEqual({ state: "connecting", retrying: false });
    FakeSocket.latest().open();
    expect(last()).toEqual({ state: "live" });
    const message = stats([stream("s", [{ group: "g" }])], { s: { g: 1.5 } });
    FakeSocket.latest().send(message);
    FakeSocket.latest().sendRaw("not json");
    FakeSocket.latest().send({ type: "heartbeat" });
    expect(received).toEqual([message]);
  });

  it("reconnects with growing delays and starts over after a message", () => {
    const { last } = startFeed();
    FakeSocket.latest().serverClose(1006);
    expect(last()).toEqual({ state: "waiting", retryAt: 1000, attempt: 1 });
    vi.advanceTimersByTime(999);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    expect(last()).toEqual({ state: "connecting", retrying: true });

    FakeSocket.latest().serverClose(1011);
    expect(last()).toEqual({ state: "waiting", retryAt: 2000, attempt: 2 });
    vi.advanceTimersByTime(2000);
    expect(FakeSocket.all).toHaveLength(3);

    FakeSocket.latest().open();
    FakeSocket.latest().send(stats([]));
    FakeSocket.latest().serverClose(1001);
    expect(last()).toEqual({ state: "waiting", retryAt: 1000, attempt: 1 });
  });

  it("stops for good when the key is refused", () => {
    const { last, onUnauthorized } = startFeed();
    FakeSocket.latest().open();
    FakeSocket.latest().serverClose(CLOSE_UNAUTHORIZED, "operator key required");
    expect(last()).toEqual({ state: "unauthorized" });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("drops a socket that stays silent and reconnects", () => {
    const { last } = startFeed();
    const first = FakeSocket.latest();
    first.open();
    vi.advanceTimersByTime(STALE_AFTER_MS - 1);
    expect(last()).toEqual({ state: "live" });
    vi.advanceTimersByTime(1);
    expect(first.closedByClient).toBe(true);
    expect(last()).toMatchObject({ state: "waiting", attempt: 1 });
    vi.advanceTimersByTime(1000);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it("does nothing more once stopped", () => {
    const { feed, last, received } = startFeed();
    const socket = FakeSocket.latest();
    socket.open();
    feed.stop();
    expect(socket.closedByClient).toBe(true);
    expect(last()).toEqual({ state: "stopped" });
    socket.send(stats([]));
    socket.serverClose(1006);
    vi.advanceTimersByTime(60_000);
    expect(received).toEqual([]);
    expect(FakeSocket.all).toHaveLength(1);
    expect(last()).toEqual({ state: "stopped" });
  });
});
