// One order's live tracking socket, kept open across drops: framework-free, with the socket,
// the timers and the randomness injected so that tests drive it step by step.
//
// Each (re)connection asks for `since=<last version held>`, so the server's snapshot carries
// exactly what was missed. A gap (a version beyond the next one) is never applied: the socket is
// dropped and reopened, which yields a snapshot from the last version held. Once a terminal
// status is held, or the server refuses the token or the order (4401/4404/4400), it stops.
import { isTerminal } from "../api/types";
import { parseMessage } from "./protocol";
import { applyMessage, INITIAL_TRACKING, type TrackingState } from "./state";

export type ConnectionState = "connecting" | "live" | "reconnecting" | "closed";
export type ClosedReason = "terminal" | "unauthorized" | "not_found" | "rejected" | "stopped";

export interface TrackerView {
  tracking: TrackingState;
  connection: ConnectionState;
  /** Why the connection is `closed`; null otherwise. */
  closedReason: ClosedReason | null;
  /** While `reconnecting` and waiting: the wait before the next attempt (ms); null otherwise. */
  retryInMs: number | null;
}

export interface SocketHandlers {
  onMessage(data: unknown): void;
  onClose(code: number): void;
}

export interface SocketHandle {
  close(): void;
}

export type SocketFactory = (url: string, handlers: SocketHandlers) => SocketHandle;

export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** In [0, 1]: the wait is the delay shortened by up to this fraction, at random. */
  jitter: number;
}

export interface TrackingOptions {
  orderId: string;
  token: string;
  /** ws://host or wss://host (no trailing slash). */
  origin: string;
  createSocket?: SocketFactory;
  timers?: Timers;
  random?: () => number;
  backoff?: Backoff;
  /** No message at all for this long (the server sends a heartbeat every 15 s): reconnect. */
  staleAfterMs?: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 15_000, jitter: 0.5 };
export const DEFAULT_STALE_AFTER_MS = 45_000;

// Close codes of notifications/sockets.py, mirroring HTTP statuses.
const CLOSE_BAD_REQUEST = 4400;
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_NOT_FOUND = 4404;

export function trackingUrl(origin: string, orderId: string, token: string, since: number): string {
  const query = new URLSearchParams({ token, since: String(since) });
  return `${origin}/ws/tracking/${encodeURIComponent(orderId)}?${query.toString()}`;
}

/** The socket origin of the page: the app is served by the same gateway as the API. */
export function pageSocketOrigin(location: Pick<Location, "protocol" | "host">): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;
}

export const browserSocket: SocketFactory = (url, handlers) => {
  const socket = new WebSocket(url);
  socket.onmessage = (event) => handlers.onMessage(event.data);
  socket.onclose = (event) => handlers.onClose(event.code);
  return { close: () => socket.close(1000) };
};

export const globalTimers: Timers = {
  set: (callback, ms) => globalThis.setTimeout(callback, ms),
  clear: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The wait before reconnection attempt number `attempt` (1-based). */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number): number {
  const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(delay * (1 - backoff.jitter * random()));
}

const CLOSED_BY_CODE: Record<number, ClosedReason> = {
  [CLOSE_BAD_REQUEST]: "rejected",
  [CLOSE_UNAUTHORIZED]: "unauthorized",
  [CLOSE_NOT_FOUND]: "not_found",
};

export class TrackingConnection {
  private view: TrackerView = {
    tracking: INITIAL_TRACKING,
    connection: "connecting",
    closedReason: null,
    retryInMs: null,
  };
  private readonly listeners = new Set<(view: TrackerView) => void>();
  private readonly createSocket: SocketFactory;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly backoff: Backoff;
  private readonly staleAfterMs: number;
  private socket: SocketHandle | null = null;
  /** Identifies the current socket; events of an older one are ignored. */
  private generation = 0;
  /** Attempts since the connection was last live (in sync). */
  private failures = 0;
  private retryTimer: unknown = null;
  private staleTimer: unknown = null;
  private started = false;

  constructor(private readonly options: TrackingOptions) {
    this.createSocket = options.createSocket ?? browserSocket;
    this.timers = options.timers ?? globalTimers;
    this.random = options.random ?? Math.random;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  }

  getView(): TrackerView {
    return this.view;
  }

  subscribe(listener: (view: TrackerView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.open();
  }

  /** Stop for good (the page is left). */
  stop(): void {
    this.finish("stopped");
  }

  /** While waiting to reconnect (e.g. the browser is back online): try at once. */
  reconnectNow(): void {
    if (this.view.connection !== "reconnecting" || this.retryTimer === null) return;
    this.clearRetry();
    this.open();
  }

  private open(): void {
    const generation = ++this.generation;
    const url = trackingUrl(
      this.options.origin,
      this.options.orderId,
      this.options.token,
      this.view.tracking.version,
    );
    this.update({ retryInMs: null });
    this.armStaleTimer();
    const current = () => generation === this.generation;
    try {
      this.socket = this.createSocket(url, {
        onMessage: (data) => {
          if (current()) this.onMessage(data);
        },
        onClose: (code) => {
          if (current()) this.onClose(code);
        },
      });
    } catch {
      this.reconnect({ resync: false }); // e.g. the browser refused to open one: try again later
    }
  }

  private onMessage(data: unknown): void {
    const message = parseMessage(data);
    if (message === null) return;
    if (message.type !== "heartbeat" && message.orderId !== this.options.orderId) return;
    this.armStaleTimer();
    const { state, outcome } = applyMessage(this.view.tracking, message);
    if (state !== this.view.tracking) this.update({ tracking: state });
    if (isTerminal(state.status)) {
      this.finish("terminal");
    } else if (outcome === "gap") {
      this.reconnect({ resync: true });
    } else if (message.type === "snapshot") {
      this.failures = 0; // in sync: the next drop starts the backoff afresh
      this.update({ connection: "live" });
    }
  }

  private onClose(code: number): void {
    this.socket = null;
    const refused = CLOSED_BY_CODE[code];
    if (refused !== undefined) {
      this.finish(refused);
    } else {
      this.reconnect({ resync: false });
    }
  }

  /**
   * Abandon the current socket (if any) and open another from the last version held: after a
   * backoff, except for the first resync after being in sync (a gap is repaired at once).
   */
  private reconnect({ resync }: { resync: boolean }): void {
    this.closeSocket();
    this.clearStaleTimer();
    this.clearRetry();
    const delay =
      resync && this.failures === 0 ? 0 : backoffDelay(this.failures + 1, this.backoff, this.random);
    this.failures += 1;
    this.update({ connection: "reconnecting", retryInMs: delay });
    this.retryTimer = this.timers.set(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  private finish(reason: ClosedReason): void {
    this.started = true; // a stopped connection is never started again
    this.closeSocket();
    this.clearRetry();
    this.clearStaleTimer();
    if (this.view.connection !== "closed") {
      this.update({ connection: "closed", closedReason: reason, retryInMs: null });
    }
  }

  private closeSocket(): void {
    this.generation += 1; // whatever the old socket still reports is ignored
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  private armStaleTimer(): void {
    this.clearStaleTimer();
    this.staleTimer = this.timers.set(() => {
      this.staleTimer = null;
      this.reconnect({ resync: false });
    }, this.staleAfterMs);
  }

  private clearStaleTimer(): void {
    if (this.staleTimer !== null) this.timers.clear(this.staleTimer);
    this.staleTimer = null;
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.timers.clear(this.retryTimer);
    this.retryTimer = null;
  }

  private update(changes: Partial<TrackerView>): void {
    this.view = { ...this.view, ...changes };
    for (const listener of this.listeners) listener(this.view);
  }
}
