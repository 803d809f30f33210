import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeServer, ORDER_ID, entry, snapshot, statusMessage } from "../test/fakeSocket";
import { backoffDelay, DEFAULT_BACKOFF, TrackingConnection, type TrackerView } from "./connection";

const BACKOFF = { initialMs: 500, maxMs: 4_000, jitter: 0.5 };

function setup(options: { random?: () => number; staleAfterMs?: number } = {}) {
  const server = new FakeServer();
  const connection = new TrackingConnection({
    orderId: ORDER_ID,
    token: "secret-token",
    origin: "ws://shop.test",
    createSocket: server.factory,
    random: options.random ?? (() => 0), // no jitter: the waits are exact
    backoff: BACKOFF,
    staleAfterMs: options.staleAfterMs ?? 45_000,
  });
  const seen: TrackerView[] = [];
  connection.subscribe((view) => seen.push(view));
  connection.start();
  return { server, connection, seen };
}

function versions(connection: TrackingConnection): number[] {
  return connection.getView().tracking.timeline.map((e) => e.version);
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("TrackingConnection", () => {
  it("connects from version 0 with the token, and is live once the snapshot arrives", () => {
    const { server, connection } = setup();
    expect(server.sockets).toHaveLength(1);
    expect(server.last.url).toBe(`ws://shop.test/ws/tracking/${ORDER_ID}?token=secret-token&since=0`);
    expect(connection.getView().connection).toBe("connecting");

    server.last.send(snapshot(0, 2));
    const view = connection.getView();
    expect(view.connection).toBe("live");
    expect(view.tracking.status).toBe("paid");
    expect(versions(connection)).toEqual([1, 2]);

    server.last.send(statusMessage(3));
    expect(connection.getView().tracking.status).toBe("preparing");
    expect(versions(connection)).toEqual([1, 2, 3]);
  });

  it("after a drop, reconnects after the backoff with since = the last version it holds", () => {
    const { server, connection } = setup();
    server.last.send(snapshot(0, 1));
    server.last.send(statusMessage(2));
    server.last.drop(1006);

    expect(connection.getView().connection).toBe("reconnecting");
    expect(connection.getView().retryInMs).toBe(500);
    vi.advanceTimersByTime(499);
    expect(server.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(server.sockets).toHaveLength(2);
    expect(server.last.since).toBe(2);
    expect(server.last.token).toBe("secret-token");
    expect(connection.getView().connection).toBe("reconnecting");

    // What happened while away comes in the snapshot.
    server.last.send(snapshot(2, 4));
    expect(connection.getView().connection).toBe("live");
    expect(versions(connection)).toEqual([1, 2, 3, 4]);
    expect(connection.getView().tracking.status).toBe("ready");
  });

  it("backs off exponentially up to the maximum while attempts fail, and starts afresh once live", () => {
    const { server, connection } = setup();
    const waits: Array<number | null> = [];
    for (let i = 0; i < 6; i += 1) {
      server.last.drop(1006);
      waits.push(connection.getView().retryInMs);
      vi.runOnlyPendingTimers();
    }
    expect(waits).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
    expect(server.sockets).toHaveLength(7);
    expect(server.sockets.every((s) => s.since === 0)).toBe(true);

    server.last.send(snapshot(0, 1));
    server.last.drop(1006);
    expect(connection.getView().retryInMs).toBe(500);
  });

  it("shortens the wait by at most the jitter fraction", () => {
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0)).toBe(500);
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0.999)).toBe(250);
    expect(backoffDelay(10, DEFAULT_BACKOFF, () => 0)).toBe(15_000);
  });

  it("ignores stale and repeated versions and never goes backwards", () => {
    const { server, connection } = setup();
    server.last.send(snapshot(0, 3));
    const before = connection.getView().tracking;

    server.last.send(statusMessage(3)); // repeated
    server.last.send(statusMessage(2)); // stale
    server.last.send(statusMessage(1, "placed"));
    expect(connection.getView().tracking).toBe(before);
    expect(connection.getView().tracking.status).toBe("preparing");

    // A snapshot older than what is held (e.g. from a lagging replica) changes nothing either.
    server.last.send(snapshot(0, 2));
    expect(connection.getView().tracking).toBe(before);
    expect(server.sockets).toHaveLength(1);
    expect(connection.getView().connection).toBe("live");
  });

  it("does not apply a version beyond the next one: it resyncs from the last version held", () => {
    const { server, connection } = setup();
    server.last.send(snapshot(0, 2));
    const first = server.last;

    first.send(statusMessage(4)); // 3 is missing
    expect(connection.getView().tracking.version).toBe(2);
    expect(connection.getView().tracking.status).toBe("paid");
    expect(first.closedByClient).toBe(true);
    expect(connection.getView().connection).toBe("reconnecting");

    vi.advanceTimersByTime(0); // the first resync is immediate
    expect(server.sockets).toHaveLength(2);
    expect(server.last.since).toBe(2);

    first.send(statusMessage(3)); // the abandoned socket is not listened to any more
    expect(connection.getView().tracking.version).toBe(2);

    server.last.send(snapshot(2, 4));
    expect(versions(connection)).toEqual([1, 2, 3, 4]);
    expect(connection.getView().connection).toBe("live");
  });

  it("resyncs when a snapshot's head is ahead of the entries it carries, backing off if it repeats", () => {
    const { server, connection } = setup();
    server.last.send(snapshot(0, 3, [entry(1)])); // versions 2 and 3 missing
    expect(versions(connection)).toEqual([1]);
    expect(connection.getView().connection).toBe("reconnecting");
    expect(connection.getView().retryInMs).toBe(0); // a first resync is immediate

    vi.advanceTimersByTime(0);
    expect(server.last.since).toBe(1);
    server.last.send(snapshot(1, 3, [entry(3)])); // still a gap: 2 missing
    expect(versions(connection)).toEqual([1]);
    expect(connection.getView().retryInMs).toBe(1000); // a repeated one backs off

    vi.advanceTimersByTime(1000);
    server.last.send(snapshot(1, 3));
    expect(versions(connection)).toEqual([1, 2, 3]);
    expect(connection.getView().connection).toBe("live");
  });

  it("stops for good at a terminal status and never reconnects", () => {
    const { server, connection } = setup();
    server.last.send(snapshot(0, 6));
    server.last.send(statusMessage(7, "delivered"));

    const view = connection.getView();
    expect(view.tracking.status).toBe("delivered");
    expect(view.connection).toBe("closed");
    expect(view.closedReason).toBe("terminal");
    expect(server.last.closedByClient).toBe(true);

    server.last.drop(1000); // the close event of the socket it closed
    vi.advanceTimersByTime(10 * 60_000);
    expect(server.sockets).toHaveLength(1);
    expect(connection.getView().connection).toBe("closed");
  });

  it("stops when the snapshot itself is terminal, with the cancel reason", () => {
    const { server, connection } = setup();
    server.last.send(snapshot(0, 2, [entry(1), entry(2, "cancelled", "payment_declined")]));
    expect(connection.getView().tracking.status).toBe("cancelled");
    expect(connection.getView().tracking.reason).toBe("payment_declined");
    expect(connection.getView().connection).toBe("closed");
    vi.runAllTimers();
    expect(server.sockets).toHaveLength(1);
  });

  it.each([
    [4404, "not_found"],
    [4401, "unauthorized"],
    [4400, "rejected"],
  ] as const)("does not retry after close code %i (%s)", (code, reason) => {
    const { server, connection } = setup();
    server.last.drop(code);
    expect(connection.getView().connection).toBe("closed");
    expect(connection.getView().closedReason).toBe(reason);
    vi.runAllTimers();
    expect(server.sockets).toHaveLength(1);
  });

  it("reconnects a socket that went silent (no heartbeat) from the last version held", () => {
    const { server, connection } = setup({ staleAfterMs: 45_000 });
    server.last.send(snapshot(0, 2));
    vi.advanceTimersByTime(30_000);
    server.last.send({ type: "heartbeat", at: "2025-01-01T12:00:00Z" });
    vi.advanceTimersByTime(44_999);
    expect(connection.getView().connection).toBe("live");
    vi.advanceTimersByTime(1);
    expect(connection.getView().connection).toBe("reconnecting");
    expect(server.sockets[0]?.closedByClient).toBe(true);
    vi.advanceTimersByTime(500);
    expect(server.last.since).toBe(2);
  });

  it("ignores what it cannot parse and messages about another order", () => {
    const { server, connection } = setup();
    server.last.send(snapshot(0, 1));
    const before = connection.getView();
    server.last.send("not json");
    server.last.send({ type: "status", order_id: ORDER_ID, status: "teleported", version: 2, reason: null, at: "x" });
    server.last.send({ ...statusMessage(2), order_id: "f".repeat(32) });
    expect(connection.getView()).toBe(before);
  });

  it("tries at once when asked while waiting to reconnect", () => {
    const { server, connection } = setup();
    server.last.drop(1006);
    connection.reconnectNow();
    expect(server.sockets).toHaveLength(2);
    vi.advanceTimersByTime(500); // the cancelled wait does not open a third socket
    expect(server.sockets).toHaveLength(2);
  });

  it("stop() closes the socket and cancels any pending reconnection", () => {
    const { server, connection, seen } = setup();
    server.last.drop(1006);
    connection.stop();
    vi.runAllTimers();
    expect(server.sockets).toHaveLength(1);
    expect(seen.at(-1)?.connection).toBe("closed");
    expect(seen.at(-1)?.closedReason).toBe("stopped");
  });

  it("treats a socket that cannot even be created as a drop", () => {
    let attempts = 0;
    const server = new FakeServer();
    const connection = new TrackingConnection({
      orderId: ORDER_ID,
      token: "t",
      origin: "ws://shop.test",
      createSocket: (url, handlers) => {
        attempts += 1;
        if (attempts === 1) throw new DOMException("refused", "SecurityError");
        return server.factory(url, handlers);
      },
      random: () => 0,
      backoff: BACKOFF,
    });
    connection.start();
    expect(connection.getView().connection).toBe("reconnecting");
    vi.advanceTimersByTime(500);
    expect(server.sockets).toHaveLength(1);
    server.last.send(snapshot(0, 1));
    expect(connection.getView().connection).toBe("live");
  });
});
