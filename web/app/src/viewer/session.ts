// The viewer's shared state: who is signed in (identity /me), the error banner, this device's
// id, and what a 401 does (back to sign-in). The session itself is the HttpOnly cookie the
// identity service sets; the app never sees or stores a token.

import { ApiError, errorText, get, setUnauthorizedHandler } from "../common/api";
import { navigate } from "../common/router";
import { Store } from "../common/store";
import type { Me } from "./types";

/** undefined: not asked yet; null: not signed in. */
export const me = new Store<Me | null | undefined>(undefined);

/** The text of the error banner (any API error), or null. */
export const banner = new Store<string | null>(null);

const PUBLIC_PATHS = ["/signin", "/signup"];

export function isPublic(path: string): boolean {
  return PUBLIC_PATHS.includes(path);
}

/** Ask identity who is signed in (null when nobody is). */
export async function refreshMe(): Promise<Me | null> {
  try {
    const who = await get<Me>("/api/identity/me");
    me.set(who);
    return who;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      me.set(null);
      return null;
    }
    throw err;
  }
}

/** Show an API error in the banner (a 401 is handled by sending the person to sign in,
 * unless `signingIn`: then it is a wrong email or password, which the banner tells). */
export function report(err: unknown, options: { signingIn?: boolean } = {}): void {
  if (err instanceof ApiError && err.status === 401 && !options.signingIn) return;
  if (err instanceof DOMException && err.name === "AbortError") return;
  banner.set(errorText(err));
}

export function clearBanner(): void {
  banner.set(null);
}

/** Where to go after signing in: the page the person was sent away from. */
export function signinHref(): string {
  const here = window.location.pathname + window.location.search;
  if (isPublic(window.location.pathname) || here === "/") return "/signin";
  return `/signin?next=${encodeURIComponent(here)}`;
}

setUnauthorizedHandler((_error, path) => {
  // A wrong password at sign-in is a 401 too: that form shows it itself.
  if (path.startsWith("/api/identity/signin") || path.startsWith("/api/identity/me")) return;
  if (isPublic(window.location.pathname)) return;
  me.set(null);
  navigate(signinHref(), { replace: true });
});

const DEVICE_KEY = "matinee.device";

/** A stable id for this browser (not a secret: it lets a reload reuse its stream). */
export function deviceId(): string {
  try {
    const known = window.localStorage.getItem(DEVICE_KEY);
    if (known && /^[A-Za-z0-9._:-]{1,100}$/.test(known)) return known;
    const fresh = `web-${randomId()}`;
    window.localStorage.setItem(DEVICE_KEY, fresh);
    return fresh;
  } catch {
    return fallbackDevice;
  }
}

const fallbackDevice = `web-${randomId()}`;

/** A plain name for this device ("Chrome on Linux"). */
export function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Chrom(e|ium)\//.test(ua)
      ? "Chrome"
      : /Firefox\//.test(ua)
        ? "Firefox"
        : /Safari\//.test(ua)
          ? "Safari"
          : "Browser";
  const os = /Windows/.test(ua)
    ? "Windows"
    : /Mac OS X/.test(ua)
      ? "macOS"
      : /Android/.test(ua)
        ? "Android"
        : /iPhone|iPad/.test(ua)
          ? "iOS"
          : /Linux/.test(ua)
            ? "Linux"
            : "the web";
  return `${browser} on ${os}`;
}

export function randomId(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `${Date.now().toString(16)}-${Math.random().toString(16).slice(2, 14)}`;
}

/** When the person asked to play (a click), for the player's time to first frame. */
export const playIntent = { at: null as number | null };

export function markPlayIntent(): void {
  playIntent.at = performance.now();
}
