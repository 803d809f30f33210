import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { Dashboard } from "./Dashboard";
import type { SocketLike } from "./feed";
import { KeyPrompt } from "./KeyPrompt";
import { clearKey, loadKey, saveKey } from "./operatorKey";

export const REFUSED_NOTICE =
  "The server refused the operator key (401 Unauthorized). Enter the current key — `orders-saga up` prints it.";

/** /ops: asks for the operator key once, then shows the dashboard until the key is refused
 * or forgotten. */
export function OpsPage({ createSocket }: { createSocket?: (url: string) => SocketLike }) {
  const client = useQueryClient();
  const [key, setKey] = useState<string | null>(loadKey);
  const [notice, setNotice] = useState<string | null>(null);
  const current = useRef(key);
  useEffect(() => {
    current.current = key;
  }, [key]);

  const signOut = useCallback(
    (message: string | null) => {
      clearKey();
      current.current = null;
      setKey(null);
      setNotice(message);
      client.removeQueries({ queryKey: ["ops"] });
    },
    [client],
  );

  // A late 401 for a key that was already replaced must not sign the new key out.
  const refused = useCallback(
    (refusedKey: string) => {
      if (refusedKey === current.current) signOut(REFUSED_NOTICE);
    },
    [signOut],
  );

  if (!key) {
    return (
      <KeyPrompt
        notice={notice}
        onSubmit={(entered) => {
          saveKey(entered);
          setNotice(null);
          setKey(entered);
        }}
      />
    );
  }
  return (
    <Dashboard
      key={key}
      operatorKey={key}
      onUnauthorized={refused}
      onForget={() => signOut(null)}
      {...(createSocket ? { createSocket } : {})}
    />
  );
}
