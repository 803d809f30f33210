// A scriptable stand-in for the tracking WebSocket server, for TrackingConnection's factory.
import type { SocketFactory, SocketHandlers } from "../tracking/connection";

export class FakeSocket {
  closedByClient = false;

  constructor(
    readonly url: string,
    private readonly handlers: SocketHandlers,
  ) {}

  get since(): number {
    return Number(new URL(this.url).searchParams.get("since"));
  }

  get token(): string | null {
    return new URL(this.url).searchParams.get("token");
  }

  close(): void {
    this.closedByClient = true;
  }

  send(message: unknown): void {
    this.handlers.onMessage(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The server or the network closes the socket. */
  drop(code = 1006): void {
    this.handlers.onClose(code);
  }
}

export class FakeServer {
  readonly sockets: FakeSocket[] = [];

  readonly factory: SocketFactory = (url, handlers) => {
    const socket = new FakeSocket(url, handlers);
    this.sockets.push(socket);
    return socket;
  };

  get last(): FakeSocket {
    const socket = this.sockets.at(-1);
    if (socket === undefined) throw new Error("no socket was opened");
    return socket;
  }
}

export const ORDER_ID = "0123456789abcdef0123456789abcdef";

const STATUSES = ["placed", "paid", "preparing", "ready", "courier_assigned", "picked_up", "delivered"];

export function entry(version: number, status = STATUSES[version - 1] ?? "preparing", reason: string | null = null) {
  return { status, version, reason, at: `2025-01-01T12:0${version}:00+00:00` };
}

export function statusMessage(version: number, status?: string, reason: string | null = null) {
  return { type: "status", order_id: ORDER_ID, ...entry(version, status, reason) };
}

/** The snapshot the server sends to a socket opened with `since`, the order being at `head`. */
export function snapshot(since: number, head: number, entries = range(since + 1, head).map((v) => entry(v))) {
  const last = entries.at(-1);
  return {
    type: "snapshot",
    order_id: ORDER_ID,
    status: head === 0 ? null : (last?.status ?? STATUSES[head - 1]),
    version: head,
    reason: last?.reason ?? null,
    timeline: entries,
  };
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** Timers that fire only when the test says so. */
export class ManualTimers {
  private next = 1;
  private readonly pending = new Map<number, { callback: () => void; ms: number }>();

  readonly timers = {
    set: (callback: () => void, ms: number): unknown => {
      const handle = this.next++;
      this.pending.set(handle, { callback, ms });
      return handle;
    },
    clear: (handle: unknown): void => {
      this.pending.delete(handle as number);
    },
  };

  /** The waits currently scheduled (ms), oldest first. */
  get waits(): number[] {
    return [...this.pending.values()].map((t) => t.ms);
  }

  /** Fire every timer scheduled for exactly `ms`. */
  fire(ms: number): void {
    for (const [handle, timer] of [...this.pending]) {
      if (timer.ms === ms) {
        this.pending.delete(handle);
        timer.callback();
      }
    }
  }
}
