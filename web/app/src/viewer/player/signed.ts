// The media token in the URLs a player fetches.
//
// Playback signs one token per play (`/t/<token>/media/assets/<id>/...`), the same for every
// file of the title, and it works until `urls_expire_at` (hours). A long play, or one paused for
// long, outlives it: before then the engine asks `/api/playback/refresh` for a new one, and this
// request filter puts the current token into every URL Shaka fetches from then on (the
// manifest's relative segment URLs still carry the token the manifest was loaded with).

import type shaka from "shaka-player/dist/shaka-player.compiled-es2021.js";

const SIGNED = /\/t\/v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\//;

/** The token of a signed path or URL (`.../t/<token>/...`), or null. */
export function tokenOf(url: string): string | null {
  const found = SIGNED.exec(url);
  return found ? found[0].slice(3, -1) : null;
}

/** A signed path without its token (`/media/assets/<id>/manifest.mpd`). */
export function unsigned(url: string): string {
  return url.replace(SIGNED, "/");
}

/** When to ask for new URLs, from how long playback said they work (seconds, on its clock,
 * so a device's wrong clock does not matter): three quarters of the way, at least a second;
 * a minute when the answer made no sense. */
export function refreshDelayMs(validS: number): number {
  if (!Number.isFinite(validS) || validS <= 0) return 60_000;
  return Math.max(1000, Math.floor(validS * 750));
}

export class SignedUrls {
  /** How many times the token was replaced. */
  refreshes = 0;

  constructor(public token: string) {}

  set(token: string): void {
    if (token !== this.token) {
      this.token = token;
      this.refreshes += 1;
    }
  }

  /** For NetworkingEngine.registerRequestFilter, before the host failover's. */
  readonly requestFilter = (_type: shaka.net.NetworkingEngine.RequestType, request: shaka.extern.Request): void => {
    const current = `/t/${this.token}/`;
    request.uris = request.uris.map((uri) => uri.replace(SIGNED, current));
  };
}
