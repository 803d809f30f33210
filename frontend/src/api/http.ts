// fetch with the two failures a caller must tell apart: no answer at all, and an error answer.

/** The request never got an answer (offline, DNS, connection reset, CORS...). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super("network error", { cause });
    this.name = "NetworkError";
  }
}

/** The server answered with a non-2xx status. `detail` is FastAPI's `detail` field, if any. */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: unknown;
  /** Seconds from a `Retry-After` header (503), when it holds a number. */
  readonly retryAfterS: number | null;

  constructor(status: number, detail: unknown, retryAfterS: number | null) {
    super(`HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.retryAfterS = retryAfterS;
  }

  /** The `code` of a `{detail: {code, ...}}` answer. */
  get code(): string | null {
    const detail = this.detail;
    if (detail !== null && typeof detail === "object" && "code" in detail) {
      const code = (detail as { code: unknown }).code;
      return typeof code === "string" ? code : null;
    }
    return null;
  }
}

function retryAfter(response: Response): number | null {
  const raw = response.headers.get("Retry-After");
  if (raw === null || !/^\d+$/.test(raw.trim())) return null;
  return Number(raw.trim());
}

async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The JSON body of a 2xx answer; throws `NetworkError` or `ApiError` otherwise. */
export async function requestJson<T>(url: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new NetworkError(error);
  }
  let body: unknown;
  try {
    body = await bodyOf(response);
  } catch (error) {
    throw new NetworkError(error); // the connection dropped while the body was read
  }
  if (!response.ok) {
    const detail =
      body !== null && typeof body === "object" && "detail" in body
        ? (body as { detail: unknown }).detail
        : body;
    throw new ApiError(response.status, detail, retryAfter(response));
  }
  return body as T;
}
