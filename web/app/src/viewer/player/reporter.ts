// What the player tells the services while it plays:
// - playback: a heartbeat every `heartbeat_interval_s` keeps the stream's lease (the plan's
//   screen), and a stop releases it at once;
// - history: a start, a heartbeat every ~10 s (position, rendition, bitrate, buffer, rebuffers,
//   device) and a stop, which is where the person resumes next time.
// Leaving the page sends the stops with `keepalive`, so they outlive the page.

import { ApiError, api, post } from "../../common/api";
import { randomId } from "../session";
import type { Heartbeat, ViewingEvent } from "../types";

export const HISTORY_INTERVAL_MS = 10_000;
const MAX_BATCH = 500;

export interface Snapshot {
  position_s: number;
  duration_s: number;
  rendition: string;
  bitrate: number;
  buffer_s: number;
  /** Rebuffers since playback began (the reporter sends the difference). */
  rebuffers: number;
}

export interface ReporterOptions {
  titleId: string;
  leaseId: string;
  heartbeatIntervalS: number;
  device: string;
  snapshot: () => Snapshot;
  /** The lease is gone (expired, or ended elsewhere): the player must start again. */
  onLeaseLost: (err: ApiError) => void;
}

/** The stop of the previous play, which the next one waits for (a plan with one screen must
 * release it before the next episode may start). */
let pendingStop: Promise<unknown> = Promise.resolve();

export function afterPreviousStop(timeoutMs = 1500): Promise<void> {
  return Promise.race([
    pendingStop.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => window.setTimeout(resolve, timeoutMs)),
  ]);
}

export class Reporter {
  private readonly session = randomId().replace(/[^A-Za-z0-9-]/g, "").slice(0, 36);
  private seq = 0;
  private queue: ViewingEvent[] = [];
  private sentRebuffers = 0;
  private historyTimer: number | null = null;
  private leaseTimer: number | null = null;
  private flushing: Promise<void> | null = null;
  private started = false;
  private stopped = false;
  private leaseId: string;
  private intervalS: number;

  constructor(private readonly options: ReporterOptions) {
    this.leaseId = options.leaseId;
    this.intervalS = options.heartbeatIntervalS;
    this.scheduleLease();
  }

  /** A new lease (after the old one was lost and playback started again). */
  renewLease(leaseId: string, intervalS: number): void {
    this.leaseId = leaseId;
    this.intervalS = intervalS;
    this.scheduleLease();
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** The first frame is on screen: the history start, then a heartbeat every 10 s. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.record("start");
    void this.flush();
    this.historyTimer = window.setInterval(() => this.beat(), HISTORY_INTERVAL_MS);
  }

  /** A history heartbeat now (on pause, on a seek). */
  beat(): void {
    if (!this.started || this.stopped) return;
    this.record("heartbeat");
    void this.flush();
  }

  /** End the play: the history stop and the lease's release. `unloading`: the page is
   * going away, so both go with keepalive and nothing waits for them. */
  stop(options: { finished?: boolean; unloading?: boolean } = {}): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    if (this.historyTimer !== null) window.clearInterval(this.historyTimer);
    if (this.leaseTimer !== null) window.clearTimeout(this.leaseTimer);
    if (this.started) this.record("stop", options.finished ?? false);
    const keepalive = options.unloading ?? false;
    const history = this.queue.length > 0 ? this.send(this.queue.splice(0, MAX_BATCH), keepalive) : Promise.resolve();
    const lease = api("POST", "/api/playback/stop", { body: { lease_id: this.leaseId }, keepalive }).catch(() => undefined);
    const done = Promise.all([history.catch(() => undefined), lease]).then(() => undefined);
    pendingStop = done;
    return done;
  }

  private record(kind: ViewingEvent["kind"], finished = false): void {
    const snap = this.options.snapshot();
    const rebuffers = Math.max(0, snap.rebuffers - this.sentRebuffers);
    this.sentRebuffers = snap.rebuffers;
    const duration = Number.isFinite(snap.duration_s) && snap.duration_s > 0 ? snap.duration_s : 0;
    this.queue.push({
      event_id: `${this.session}-${++this.seq}`,
      kind,
      title_id: this.options.titleId,
      position_s: clamp(snap.position_s, 0, 172_800),
      duration_s: clamp(duration, 0, 172_800),
      rendition: snap.rendition.slice(0, 32),
      bitrate: Math.round(clamp(snap.bitrate, 0, 1_000_000_000)),
      buffer_s: clamp(snap.buffer_s, 0, 3600),
      rebuffers: Math.min(rebuffers, 10_000),
      device: this.options.device.slice(0, 64),
      client_ts: Date.now() / 1000,
      finished,
    });
    if (this.queue.length > MAX_BATCH * 4) this.queue.splice(0, this.queue.length - MAX_BATCH * 4);
  }

  /** Send what is queued; a failed batch stays queued (same ids) for the next try. */
  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.queue.length === 0) return Promise.resolve();
    const batch = this.queue.slice(0, MAX_BATCH);
    this.flushing = this.send(batch, false)
      .then(() => {
        this.queue.splice(0, batch.length);
      })
      .catch(() => undefined)
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  private send(events: ViewingEvent[], keepalive: boolean): Promise<unknown> {
    return api("POST", "/api/history/events", { body: { events }, keepalive });
  }

  private scheduleLease(): void {
    if (this.leaseTimer !== null) window.clearTimeout(this.leaseTimer);
    if (this.stopped) return;
    const ms = Math.max(1, this.intervalS) * 1000;
    this.leaseTimer = window.setTimeout(() => void this.leaseBeat(), ms);
  }

  private async leaseBeat(): Promise<void> {
    if (this.stopped) return;
    const lease = this.leaseId;
    try {
      const answer = await post<Heartbeat>("/api/playback/heartbeat", { lease_id: lease });
      if (lease === this.leaseId) this.intervalS = answer.heartbeat_interval_s;
      this.scheduleLease();
    } catch (err) {
      if (this.stopped || lease !== this.leaseId) return;
      if (err instanceof ApiError && (err.status === 410 || err.status === 404)) {
        this.options.onLeaseLost(err);
        return;
      }
      // A blip (network, 503): try again sooner, well before the lease runs out.
      if (this.leaseTimer !== null) window.clearTimeout(this.leaseTimer);
      this.leaseTimer = window.setTimeout(() => void this.leaseBeat(), Math.min(5000, this.intervalS * 250));
    }
  }
}

function clamp(value: number, lo: number, hi: number): number {
  if (!Number.isFinite(value)) return lo;
  return Math.min(hi, Math.max(lo, value));
}
