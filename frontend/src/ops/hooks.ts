import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { opsSocketUrl } from "./api";
import { OpsFeed, type FeedStatus, type SocketLike } from "./feed";
import type { StatsMessage } from "./types";

/** The live feed's status; `onStats` and `onUnauthorized` may change between renders. */
export function useOpsFeed(
  key: string,
  onStats: (message: StatsMessage) => void,
  onUnauthorized: () => void,
  createSocket?: (url: string) => SocketLike,
): FeedStatus {
  const [status, setStatus] = useState<FeedStatus>({ state: "connecting", retrying: false });
  const handlers = useRef({ onStats, onUnauthorized });
  useLayoutEffect(() => {
    handlers.current = { onStats, onUnauthorized };
  });
  useEffect(() => {
    const feed = new OpsFeed({
      url: opsSocketUrl(key),
      onStats: (message) => handlers.current.onStats(message),
      onUnauthorized: () => handlers.current.onUnauthorized(),
      onStatus: setStatus,
      ...(createSocket ? { createSocket } : {}),
    });
    feed.start();
    return () => feed.stop();
  }, [key, createSocket]);
  return status;
}

/** The current time, re-read every `everyMs`. */
export function useNow(everyMs: number = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
