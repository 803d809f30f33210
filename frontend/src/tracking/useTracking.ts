// The React side of `TrackingConnection`: one connection per (order, token) while mounted.
import { useEffect, useRef, useState } from "react";
import {
  pageSocketOrigin,
  TrackingConnection,
  type TrackerView,
  type TrackingOptions,
} from "./connection";

export type ConnectionOverrides = Omit<TrackingOptions, "orderId" | "token" | "origin">;

const IDLE: TrackerView | null = null;

/** Live view of the order; null while there is no token to connect with. */
export function useTracking(
  orderId: string,
  token: string | null,
  overrides?: ConnectionOverrides,
): TrackerView | null {
  const [view, setView] = useState<TrackerView | null>(IDLE);
  // Fixed for a mount (tests inject sockets and timers): a new object each render must not reconnect.
  const fixedOverrides = useRef(overrides);
  useEffect(() => {
    if (token === null) {
      setView(IDLE);
      return undefined;
    }
    const connection = new TrackingConnection({
      orderId,
      token,
      origin: pageSocketOrigin(window.location),
      ...fixedOverrides.current,
    });
    setView(connection.getView());
    const unsubscribe = connection.subscribe(setView);
    const online = () => connection.reconnectNow();
    window.addEventListener("online", online);
    connection.start();
    return () => {
      window.removeEventListener("online", online);
      unsubscribe();
      connection.stop();
    };
  }, [orderId, token]);
  return view;
}
