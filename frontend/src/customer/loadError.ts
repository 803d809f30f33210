import { ApiError, NetworkError } from "../api/http";

/** A sentence saying why `what` could not be loaded. */
export function loadErrorMessage(error: unknown, what: string): string {
  if (error instanceof NetworkError) {
    return `Could not load ${what}: the server cannot be reached. Check your connection.`;
  }
  if (error instanceof ApiError && error.status >= 500) {
    const wait = error.retryAfterS !== null ? ` Try again in ${error.retryAfterS} s.` : " Try again shortly.";
    return `Could not load ${what}: the service is busy or briefly unavailable.${wait}`;
  }
  return `Could not load ${what} (${error instanceof ApiError ? `HTTP ${error.status}` : "unexpected error"}).`;
}
