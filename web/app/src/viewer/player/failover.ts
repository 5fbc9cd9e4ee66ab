// Delivery-host failover for Shaka Player.
//
// Playback answers a signed manifest path and the delivery hosts in steering order (edges,
// then the CDN tier, then the origin). Every request Shaka makes (manifest, segments,
// subtitles) gets, on its first attempt, one URI per host: the healthy hosts in steering order,
// then the ones that failed lately. Shaka's NetworkingEngine tries `uris[attempt % length]`,
// so a failed attempt moves straight on to the next host after the (short) retry delay. The
// request filter also sees that a retry means the previous host failed, and marks it down for
// a cool-down, so the following requests start on a host that works. A response tells which
// host is serving now, and brings a recovered host back.

import type shaka from "shaka-player/dist/shaka-player.compiled-es2021.js";
import type { DeliveryHost } from "../types";

export interface FailoverOptions {
  /** How long a host that failed stays at the back of the list. */
  cooldownMs?: number;
  now?: () => number;
}

export class HostFailover {
  private readonly bases: string[];
  private readonly downUntil = new Map<number, number>();
  private readonly cooldownMs: number;
  private readonly now: () => number;
  /** The host that answered the last request (its name), for stats(). */
  current: string;
  /** How many times a request moved on to another host. */
  failovers = 0;
  onChange: ((host: string) => void) | null = null;

  constructor(
    readonly hosts: DeliveryHost[],
    options: FailoverOptions = {},
  ) {
    if (hosts.length === 0) throw new Error("no delivery hosts");
    this.bases = hosts.map((h) => h.base_url.replace(/\/+$/, ""));
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.now = options.now ?? (() => performance.now());
    this.current = hosts[0]!.name;
  }

  /** The first URL to load: the best host's base URL and `path`. */
  url(path: string): string {
    return this.bases[this.order()[0]!]! + path;
  }

  /** Host indexes to try, best first: healthy ones in steering order, then the failed ones
   * (the soonest to come back first). */
  order(): number[] {
    const t = this.now();
    const healthy: number[] = [];
    const down: number[] = [];
    this.bases.forEach((_, i) => {
      const until = this.downUntil.get(i);
      if (until !== undefined && until > t) down.push(i);
      else healthy.push(i);
    });
    down.sort((a, b) => (this.downUntil.get(a) ?? 0) - (this.downUntil.get(b) ?? 0));
    return [...healthy, ...down];
  }

  /** Which host a URI points at, and the path after the host's base URL. */
  split(uri: string): { host: number; path: string } | null {
    let best: { host: number; path: string } | null = null;
    let bestLength = -1;
    this.bases.forEach((base, i) => {
      if ((uri === base || uri.startsWith(base + "/")) && base.length > bestLength) {
        best = { host: i, path: uri.slice(base.length) };
        bestLength = base.length;
      }
    });
    return best;
  }

  markDown(host: number): void {
    this.downUntil.set(host, this.now() + this.cooldownMs);
  }

  private served(host: number): void {
    this.downUntil.delete(host);
    const name = this.hosts[host]!.name;
    if (name !== this.current) {
      this.current = name;
      this.onChange?.(name);
    }
  }

  /** For NetworkingEngine.registerRequestFilter. */
  readonly requestFilter = (_type: shaka.net.NetworkingEngine.RequestType, request: shaka.extern.Request): void => {
    const uris = request.uris;
    if (uris.length === 0) return;
    if (request.attempt === 0) {
      const hit = this.split(uris[0]!);
      if (!hit) return; // not ours (a data: URI, a foreign URL)
      request.uris = this.order().map((i) => this.bases[i]! + hit.path);
      return;
    }
    // A retry: the attempt before this one failed on its host.
    const failed = uris[(request.attempt - 1) % uris.length];
    const hit = failed ? this.split(failed) : null;
    if (hit) {
      this.markDown(hit.host);
      this.failovers += 1;
    }
  };

  /** For NetworkingEngine.registerResponseFilter. */
  readonly responseFilter = (_type: shaka.net.NetworkingEngine.RequestType, response: shaka.extern.Response): void => {
    const hit = this.split(response.uri) ?? this.split(response.originalUri);
    if (hit) this.served(hit.host);
  };
}
