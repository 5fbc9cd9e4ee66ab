// The admin console's calls: common/api.ts, plus "a 401 means sign in again".
import { ApiError, api, errorText } from "../common/api";
import { sessionEnded } from "./session";

/** The viewer app's sign-in page, coming back here afterwards. */
export function signinUrl(): string {
  return `/signin?next=${encodeURIComponent(location.pathname + location.search)}`;
}

/** The session is gone: the console shows its sign-in page in place of the current one. */
export function goSignIn(): void {
  sessionEnded();
}

async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  try {
    return await api<T>(method, path, { body, signal });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && !path.startsWith("/api/identity/signin")) goSignIn();
    throw err;
  }
}

export const get = <T>(path: string, signal?: AbortSignal): Promise<T> => call<T>("GET", path, undefined, signal);
export const post = <T>(path: string, body?: unknown): Promise<T> => call<T>("POST", path, body);
export const put = <T>(path: string, body?: unknown): Promise<T> => call<T>("PUT", path, body);
export const patch = <T>(path: string, body?: unknown): Promise<T> => call<T>("PATCH", path, body);

export { ApiError, errorText };

/** A query string from the defined values of `params` (arrays repeat the key). */
export function qs(params: Record<string, string | number | boolean | null | undefined | readonly string[]>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "") continue;
    if (Array.isArray(v)) for (const item of v as readonly string[]) q.append(k, item);
    else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}
