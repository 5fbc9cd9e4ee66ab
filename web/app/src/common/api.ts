// One way to call matinee's API through the gateway: JSON in and out, the session in an
// HttpOnly cookie the gateway reads, and every error turned into an ApiError with a message
// a person can read (the services answer {"error": code, "message": ..., "request_id": ...}).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null = null,
    readonly body: unknown = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const FALLBACK_MESSAGES: Record<number, string> = {
  401: "Please sign in again.",
  403: "You are not allowed to do that.",
  404: "That could not be found.",
  429: "Too many attempts. Wait a moment and try again.",
  502: "A part of matinee is not answering. Try again in a moment.",
  503: "matinee is busy or partly down. Try again in a moment.",
  504: "matinee took too long to answer. Try again in a moment.",
};

function messageOf(status: number, body: unknown): [string, string, string | null] {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    const code = typeof b.error === "string" ? b.error : `http_${status}`;
    const rid = typeof b.request_id === "string" ? b.request_id : null;
    if (typeof b.message === "string" && b.message) return [code, b.message, rid];
    if (Array.isArray(b.detail)) {
      const parts = b.detail.map((d) => {
        const item = d as { loc?: unknown[]; msg?: string };
        const field = (item.loc ?? []).filter((p) => p !== "body").join(".");
        return field ? `${field}: ${item.msg ?? "invalid"}` : (item.msg ?? "invalid");
      });
      return [code, parts.join("; "), rid];
    }
    if (typeof b.detail === "string") return [code, b.detail, rid];
  }
  return [`http_${status}`, FALLBACK_MESSAGES[status] ?? `The request failed (HTTP ${status}).`, null];
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Let the request outlive the page (a stop sent while the page unloads). */
  keepalive?: boolean;
}

type UnauthorizedHandler = (error: ApiError, path: string) => void;
let onUnauthorized: UnauthorizedHandler | null = null;

/** Call `handler` whenever an API answers 401 (the app sends the person to sign in). The
 * error is thrown to the caller as well. */
export function setUnauthorizedHandler(handler: UnauthorizedHandler | null): void {
  onUnauthorized = handler;
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  let body: BodyInit | undefined;
  if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body,
      credentials: "same-origin",
      signal: options.signal,
      keepalive: options.keepalive,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "matinee cannot be reached. Check your connection.");
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const [code, message, rid] = messageOf(response.status, parsed);
    const error = new ApiError(response.status, code, message, rid, parsed);
    if (response.status === 401 && onUnauthorized) onUnauthorized(error, path);
    throw error;
  }
  return parsed as T;
}

export const get = <T>(path: string, signal?: AbortSignal): Promise<T> => api<T>("GET", path, { signal });
export const post = <T>(path: string, body?: unknown): Promise<T> => api<T>("POST", path, { body });
export const put = <T>(path: string, body?: unknown): Promise<T> => api<T>("PUT", path, { body });
export const patch = <T>(path: string, body?: unknown): Promise<T> => api<T>("PATCH", path, { body });
export const del = <T>(path: string): Promise<T> => api<T>("DELETE", path);

/** The words to show for any thrown value. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
