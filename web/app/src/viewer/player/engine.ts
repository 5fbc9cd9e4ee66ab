// One play of one title: asks playback for a stream, loads it in Shaka Player from the
// steering-ranked hosts (failing over down the list), resumes from the bookmark, reports to
// playback and history, measures QoE, and keeps a state the controls render.

import shaka from "shaka-player/dist/shaka-player.compiled-es2021.js";
import { ApiError, get, post } from "../../common/api";
import { Store } from "../../common/store";
import { deviceId } from "../session";
import type { Bookmark, PlaybackRefresh, PlaybackStart, Rendition } from "../types";
import { HostFailover } from "./failover";
import { type PlayerProblem, playerProblem, refusal } from "./messages";
import { Reporter, afterPreviousStop, type Snapshot } from "./reporter";
import { SignedUrls, refreshDelayMs, tokenOf, unsigned } from "./signed";

export interface MenuOption {
  value: string;
  label: string;
}

export interface EngineState {
  phase: "starting" | "ready" | "error";
  problem: PlayerProblem | null;
  paused: boolean;
  ended: boolean;
  waiting: boolean;
  time: number;
  duration: number;
  bufferedEnd: number;
  volume: number;
  muted: boolean;
  qualities: MenuOption[];
  /** "auto" or a rendition's name. */
  quality: string;
  /** The height Auto is playing now. */
  autoHeight: number | null;
  audios: MenuOption[];
  audio: string;
  texts: MenuOption[];
  /** "off" or a text track's id. */
  text: string;
  /** Where playback started (the bookmark, or 0), once known. */
  resumeAt: number | null;
  /** The browser refused to play with sound before a click. */
  needsGesture: boolean;
  host: string;
}

export interface Stats {
  time: number;
  buffered_s: number;
  /** Height of the rendition Shaka is playing (the active variant). */
  height: number;
  bandwidth_bps: number;
  estimated_bps: number;
  rebuffers: number;
  rebuffer_s: number;
  ttff_ms: number | null;
  host: string;
  /** Beyond the contract: the picture's decoded height, the rendition's name, and more. */
  displayed_height: number;
  rendition: string;
  failovers: number;
  dropped_frames: number;
  paused: boolean;
  ended: boolean;
}

declare global {
  interface Window {
    matinee?: { player: shaka.Player; video: HTMLVideoElement; stats: () => Stats; engine: PlayerEngine };
  }
}

let polyfilled = false;

/** A bookmark this close to the start (seconds, or a tenth of the title) starts at 0; one this
 * close to the end (5% of the title, 1 to 10 s) counts as finished and starts over. */
const RESUME_MIN_S = 3;
const RESUME_END_MAX_S = 10;

function resumePoint(position: number, duration: number): number {
  if (!(duration > 0)) return position >= RESUME_MIN_S ? position : 0;
  const startMargin = Math.min(RESUME_MIN_S, duration * 0.1);
  const endMargin = Math.min(RESUME_END_MAX_S, Math.max(1, duration * 0.05));
  return position >= startMargin && position < duration - endMargin ? position : 0;
}
/** How long streaming may keep failing on every host before the player gives up. */
const GIVE_UP_AFTER_MS = 20_000;

function bufferedAhead(video: HTMLVideoElement): [number, number] {
  const t = video.currentTime;
  const ranges = video.buffered;
  for (let i = 0; i < ranges.length; i++) {
    if (ranges.start(i) - 0.3 <= t && t <= ranges.end(i)) return [ranges.end(i) - t, ranges.end(i)];
  }
  return [0, t];
}

function languageName(code: string): string {
  if (!code || code === "und") return "Unknown";
  try {
    const names = new Intl.DisplayNames([navigator.language || "en"], { type: "language" });
    return names.of(code) ?? code;
  } catch {
    return code;
  }
}

export function initialState(volume: number, muted: boolean): EngineState {
  return {
    phase: "starting",
    problem: null,
    paused: true,
    ended: false,
    waiting: false,
    time: 0,
    duration: 0,
    bufferedEnd: 0,
    volume,
    muted,
    qualities: [],
    quality: "auto",
    autoHeight: null,
    audios: [],
    audio: "",
    texts: [],
    text: "off",
    resumeAt: null,
    needsGesture: false,
    host: "",
  };
}

export interface EngineOptions {
  titleId: string;
  /** Start here (seconds) instead of the bookmark; null: resume from the bookmark. */
  startAt: number | null;
  /** performance.now() of the click (or 0: the page's start) that asked for this play. */
  t0: number;
  /** The profile's language, preferred for audio (asked when the stream is configured). */
  language: () => string | null;
  /** Duration known before the manifest (the catalog's runtime), for the resume check. */
  onEnded?: () => void;
}

export class PlayerEngine {
  readonly state: Store<EngineState>;
  player: shaka.Player | null = null;
  failover: HostFailover | null = null;
  lease: PlaybackStart | null = null;
  /** The media token every request carries (renewed before it expires). */
  urls: SignedUrls | null = null;
  private refreshTimer: number | null = null;
  private refreshing: Promise<void> | null = null;
  private reporter: Reporter | null = null;
  private closed = false;
  private firstFrameAt: number | null = null;
  private rebuffers = 0;
  private rebufferMs = 0;
  private waitingSince: number | null = null;
  private failingSince: number | null = null;
  private readonly retrying = new WeakSet<object>();
  private readonly cleanups: (() => void)[] = [];

  constructor(
    readonly video: HTMLVideoElement,
    readonly container: HTMLElement,
    readonly options: EngineOptions,
  ) {
    let volume = 1;
    let muted = false;
    try {
      const saved = window.localStorage.getItem("matinee.volume");
      if (saved) {
        const [v, m] = saved.split(":");
        volume = Math.min(1, Math.max(0, Number(v)));
        muted = m === "1";
        if (Number.isNaN(volume)) volume = 1;
      }
    } catch {
      // no storage: defaults
    }
    video.volume = volume;
    video.muted = muted;
    this.state = new Store<EngineState>(initialState(volume, muted));
  }

  private patch(part: Partial<EngineState>): void {
    this.state.set({ ...this.state.get(), ...part });
  }

  private fail(problem: PlayerProblem): void {
    if (this.closed) return;
    this.patch({ phase: "error", problem, waiting: false });
    try {
      this.video.pause();
    } catch {
      // nothing to pause
    }
  }

  private listen<K extends keyof HTMLMediaElementEventMap>(type: K, handler: (e: HTMLMediaElementEventMap[K]) => void): void {
    this.video.addEventListener(type, handler);
    this.cleanups.push(() => this.video.removeEventListener(type, handler));
  }

  /** Ask for the stream, then load and play it. Never throws: a refusal or a failure becomes
   * the state's `problem`. */
  async open(): Promise<void> {
    if (!polyfilled) {
      shaka.polyfill.installAll();
      polyfilled = true;
    }
    if (!shaka.Player.isBrowserSupported()) {
      this.fail({ code: "unsupported_browser", message: "This browser cannot play matinee's videos. Try a recent Chrome, Edge, Firefox or Safari." });
      return;
    }
    const player = new shaka.Player(null, this.container);
    this.player = player;
    window.matinee = { player, video: this.video, stats: () => this.stats(), engine: this };
    this.watchMedia();
    const attached = player.attach(this.video);

    await afterPreviousStop();
    if (this.closed) return;
    const titleId = this.options.titleId;
    const bookmark =
      this.options.startAt === null
        ? get<Bookmark>(`/api/history/bookmarks/${encodeURIComponent(titleId)}`).catch(() => null)
        : Promise.resolve(null);
    let lease: PlaybackStart;
    try {
      lease = await post<PlaybackStart>("/api/playback/start", { title_id: titleId, device_id: deviceId() });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && err.code === "unauthorized") return; // off to sign in
      this.fail(refusal(err));
      return;
    }
    if (this.closed) {
      void post("/api/playback/stop", { lease_id: lease.lease_id }).catch(() => undefined);
      return;
    }
    this.lease = lease;
    this.reporter = new Reporter({
      titleId,
      leaseId: lease.lease_id,
      heartbeatIntervalS: lease.heartbeat_interval_s,
      device: deviceId(),
      snapshot: () => this.snapshot(),
      onLeaseLost: () => void this.restartLease(),
    });

    const failover = new HostFailover(lease.delivery);
    this.failover = failover;
    failover.onChange = (host) => this.patch({ host });
    this.patch({ host: failover.current });
    const urls = new SignedUrls(tokenOf(lease.manifests.dash) ?? "");
    this.urls = urls;
    this.scheduleRefresh(refreshDelayMs(lease.urls_valid_s));
    const net = player.getNetworkingEngine();
    if (net) {
      net.registerRequestFilter(urls.requestFilter); // first: the failover keeps the path
      net.registerRequestFilter(failover.requestFilter);
      net.registerResponseFilter(failover.responseFilter);
    }
    this.configure(player, lease);

    const mark = await bookmark;
    let start = this.options.startAt ?? 0;
    if (mark && this.options.startAt === null && !mark.finished) start = resumePoint(mark.position_s, mark.duration_s);
    start = Math.max(0, start);
    this.patch({ resumeAt: Math.round(start * 10) / 10 });

    try {
      await attached;
      if (this.closed) return;
      await player.load(failover.url(lease.manifests.dash), start > 0 ? start : null);
    } catch (err) {
      if (this.closed) return;
      if (err instanceof shaka.util.Error) {
        if (err.code === shaka.util.Error.Code.LOAD_INTERRUPTED || err.code === shaka.util.Error.Code.OPERATION_ABORTED) return;
        this.fail(playerProblem(err));
      } else {
        this.fail({ code: "load_failed", message: "The video could not be loaded. Try again in a moment." });
      }
      return;
    }
    if (this.closed) return;
    this.patch({ phase: "ready", duration: this.video.duration || 0 });
    this.refreshTracks();
    await this.play();
  }

  private configure(player: shaka.Player, lease: PlaybackStart): void {
    const hosts = Math.max(1, lease.delivery.length);
    // Short retries: a failed host is left after ~150 ms, and every host is tried twice.
    const retry = {
      maxAttempts: hosts * 2,
      baseDelay: 150,
      backoffFactor: 1.5,
      fuzzFactor: 0.3,
      connectionTimeout: 2500,
      stallTimeout: 2500,
      timeout: 0,
    };
    const language = this.options.language() ?? "";
    player.configure({
      manifest: { retryParameters: { ...retry, timeout: 10_000 } },
      streaming: {
        retryParameters: { ...retry, timeout: 30_000 },
        bufferingGoal: 30,
        bufferBehind: 30,
        failureCallback: (error: shaka.util.Error) => this.streamingFailed(error),
      },
      // ABR: Shaka weighs each bandwidth sample by its download time, so with a full buffer
      // (one segment every 4 s) its default half-lives (2 s fast, 5 s slow) need half a minute
      // to believe a faster link. Shorter ones see a step up within a few segments; the
      // downgrade side still reacts to the fast estimate at once. A variant's declared
      // bandwidth is its peak, so upgrading at 95 % of the estimate leaves room already.
      abr: {
        enabled: true,
        defaultBandwidthEstimate: 700_000,
        switchInterval: 2,
        bandwidthUpgradeTarget: 0.95,
        advanced: { fastHalfLife: 0.5, slowHalfLife: 1 },
      },
      restrictions: { maxHeight: lease.max_height },
      preferredAudio: language ? [{ language }] : [],
      preferredText: [],
    });
  }

  /** Streaming failed on every host: try again shortly (hosts come back), up to a point. */
  private streamingFailed(error: shaka.util.Error): void {
    const player = this.player;
    if (!player || this.closed) return;
    const now = performance.now();
    this.failingSince ??= now;
    if (error.category === shaka.util.Error.Category.NETWORK && now - this.failingSince < GIVE_UP_AFTER_MS) {
      // 403 everywhere: the media token expired (a tab asleep past its refresh, say) or no
      // longer fits (a new network address): new URLs, then the retry uses them.
      if (error.code === shaka.util.Error.Code.BAD_HTTP_STATUS && error.data[1] === 403) void this.refreshUrls();
      error.severity = shaka.util.Error.Severity.RECOVERABLE;
      this.retrying.add(error);
      player.retryStreaming(0.5);
    }
  }

  private watchMedia(): void {
    const video = this.video;
    const player = this.player!;
    const firstFrame = (): void => {
      if (this.firstFrameAt !== null || this.closed) return;
      this.firstFrameAt = performance.now();
      this.reporter?.start();
    };
    if ("requestVideoFrameCallback" in video) {
      const rvfc = (): void => {
        if (video.currentTime > 0 || !video.paused) firstFrame();
        else if (this.firstFrameAt === null && !this.closed) video.requestVideoFrameCallback(rvfc);
      };
      video.requestVideoFrameCallback(rvfc);
    }
    this.listen("playing", () => {
      firstFrame();
      this.endRebuffer();
      this.failingSince = null;
      this.patch({ paused: false, waiting: false, ended: false, needsGesture: false });
    });
    this.listen("waiting", () => {
      if (this.firstFrameAt !== null && !video.seeking && !video.ended && this.waitingSince === null) {
        this.rebuffers += 1;
        this.waitingSince = performance.now();
      }
      this.patch({ waiting: true });
    });
    this.listen("canplay", () => this.patch({ waiting: false }));
    this.listen("pause", () => {
      this.endRebuffer();
      this.patch({ paused: true });
      this.reporter?.beat();
    });
    this.listen("play", () => this.patch({ paused: false }));
    this.listen("seeked", () => {
      this.reporter?.beat();
      this.tick();
    });
    this.listen("timeupdate", () => this.tick());
    this.listen("progress", () => this.tick());
    this.listen("durationchange", () => this.patch({ duration: video.duration || 0 }));
    this.listen("volumechange", () => {
      this.patch({ volume: video.volume, muted: video.muted });
      try {
        window.localStorage.setItem("matinee.volume", `${video.volume}:${video.muted ? 1 : 0}`);
      } catch {
        // no storage
      }
    });
    this.listen("ended", () => {
      this.endRebuffer();
      this.patch({ ended: true, paused: true, waiting: false });
      this.reporter?.beat();
      this.options.onEnded?.();
    });

    // A hidden tab may never come back (mobile browsers drop it without a pagehide): save the
    // position now.
    const onVisibility = (): void => {
      if (document.visibilityState === "hidden") this.reporter?.beat();
    };
    document.addEventListener("visibilitychange", onVisibility);
    this.cleanups.push(() => document.removeEventListener("visibilitychange", onVisibility));

    const onError = (event: Event): void => {
      const error = (event as unknown as { detail: shaka.util.Error }).detail;
      // The failure callback runs right after the event: decide once it had its say.
      window.setTimeout(() => {
        if (this.closed || this.retrying.has(error)) return;
        if (error.severity === shaka.util.Error.Severity.CRITICAL) this.fail(playerProblem(error));
      }, 0);
    };
    const onTracks = (): void => this.refreshTracks();
    player.addEventListener("error", onError);
    player.addEventListener("trackschanged", onTracks);
    player.addEventListener("variantchanged", onTracks);
    player.addEventListener("adaptation", onTracks);
    player.addEventListener("textchanged", onTracks);
    player.addEventListener("audiotrackschanged", onTracks);
    player.addEventListener("abrstatuschanged", onTracks);
  }

  private endRebuffer(): void {
    if (this.waitingSince !== null) {
      this.rebufferMs += performance.now() - this.waitingSince;
      this.waitingSince = null;
    }
  }

  private tick(): void {
    const [, end] = bufferedAhead(this.video);
    this.patch({ time: this.video.currentTime, bufferedEnd: end, duration: this.video.duration || this.state.get().duration });
  }

  /** The renditions, audio and subtitle tracks the menus offer, and which are active. */
  refreshTracks(): void {
    const player = this.player;
    if (!player || this.closed) return;
    const variants = player.getVariantTracks();
    const active = variants.find((t) => t.active) ?? null;
    const seen = new Map<string, { height: number; bandwidth: number }>();
    for (const t of variants) {
      if (t.height == null) continue;
      if (active && t.audioId !== active.audioId) continue;
      const name = this.renditionName(t.height, t.videoBandwidth ?? t.bandwidth);
      if (!seen.has(name)) seen.set(name, { height: t.height, bandwidth: t.videoBandwidth ?? t.bandwidth });
    }
    const list = [...seen.entries()].sort((a, b) => b[1].height - a[1].height || b[1].bandwidth - a[1].bandwidth);
    const heightCount = new Map<number, number>();
    for (const [, v] of list) heightCount.set(v.height, (heightCount.get(v.height) ?? 0) + 1);
    const qualities: MenuOption[] = list.map(([name, v]) => ({
      value: name,
      label: (heightCount.get(v.height) ?? 0) > 1 ? `${v.height}p (${(v.bandwidth / 1_000_000).toFixed(1)} Mb/s)` : `${v.height}p`,
    }));
    const abr = player.getConfiguration().abr.enabled;
    const activeName = active?.height != null ? this.renditionName(active.height, active.videoBandwidth ?? active.bandwidth) : "";

    const audioTracks = player.getAudioTracks();
    const audios = audioTracks.map((a, i) => ({
      value: String(i),
      label: `${a.label || languageName(a.language)}${a.roles.includes("description") ? " (audio description)" : ""}${
        (a.channelsCount ?? 0) > 2 ? ` ${a.channelsCount === 6 ? "5.1" : `${a.channelsCount} ch`}` : ""
      }`,
    }));
    const activeAudio = audioTracks.findIndex((a) => a.active);

    const textTracks = player.getTextTracks();
    const texts = textTracks.map((t) => ({
      value: String(t.id),
      label: `${t.label || languageName(t.language)}${t.forced ? " (forced)" : ""}${t.roles.includes("caption") || t.kind === "caption" ? " [CC]" : ""}`,
    }));
    const activeText = textTracks.find((t) => t.active);

    this.patch({
      qualities,
      quality: abr ? "auto" : activeName || "auto",
      autoHeight: active?.height ?? null,
      audios,
      audio: activeAudio >= 0 ? String(activeAudio) : "",
      texts,
      text: activeText ? String(activeText.id) : "off",
    });
  }

  /** The playback service's name for a rendition ("720p-3000k"), matched by height and the
   * nearest bitrate; "720p" if none matches. */
  renditionName(height: number, bandwidth: number): string {
    const same = (this.lease?.renditions ?? []).filter((r: Rendition) => r.height === height);
    if (same.length === 0) return `${height}p`;
    let best = same[0]!;
    for (const r of same) {
      if (Math.abs((r.average_bps ?? 0) - bandwidth) < Math.abs((best.average_bps ?? 0) - bandwidth)) best = r;
    }
    return best.name;
  }

  private activeVariant(): shaka.extern.Track | null {
    return this.player?.getVariantTracks().find((t) => t.active) ?? null;
  }

  // --- controls --------------------------------------------------------------------------

  async play(): Promise<void> {
    if (this.state.get().phase !== "ready") return;
    try {
      await this.video.play();
    } catch (err) {
      if (err instanceof DOMException && err.name === "NotAllowedError") {
        // No sound without a click first: play muted, and offer to unmute.
        this.video.muted = true;
        try {
          await this.video.play();
          this.patch({ needsGesture: true });
        } catch {
          this.patch({ needsGesture: true, paused: true });
        }
      }
    }
  }

  pause(): void {
    this.video.pause();
  }

  toggle(): void {
    if (this.video.paused || this.video.ended) void this.play();
    else this.pause();
  }

  seek(time: number): void {
    const d = this.video.duration;
    if (!Number.isFinite(d) || this.state.get().phase !== "ready") return;
    this.video.currentTime = Math.min(Math.max(0, time), Math.max(0, d - 0.1));
    this.tick();
  }

  seekBy(delta: number): void {
    this.seek(this.video.currentTime + delta);
  }

  setVolume(volume: number): void {
    this.video.volume = Math.min(1, Math.max(0, volume));
    if (this.video.volume > 0 && this.video.muted) this.video.muted = false;
  }

  toggleMute(): void {
    this.video.muted = !this.video.muted;
    if (!this.video.muted && this.video.volume === 0) this.video.volume = 0.5;
    this.patch({ needsGesture: false });
  }

  selectQuality(value: string): void {
    const player = this.player;
    if (!player) return;
    if (value === "auto") {
      player.configure({ abr: { enabled: true } });
    } else {
      const active = this.activeVariant();
      const match = player
        .getVariantTracks()
        .filter((t) => t.height != null && (!active || t.audioId === active.audioId))
        .find((t) => this.renditionName(t.height!, t.videoBandwidth ?? t.bandwidth) === value);
      if (!match) return;
      player.configure({ abr: { enabled: false } });
      // Keep ~2 segments, so the switch is quick and does not stall.
      player.selectVariantTrack(match, true, 8);
    }
    this.refreshTracks();
  }

  selectAudio(value: string): void {
    const player = this.player;
    const track = player?.getAudioTracks()[Number(value)];
    if (!player || !track) return;
    player.selectAudioTrack(track, 8);
    this.refreshTracks();
  }

  selectText(value: string): void {
    const player = this.player;
    if (!player) return;
    if (value === "off") player.selectTextTrack(null);
    else {
      const track = player.getTextTracks().find((t) => String(t.id) === value);
      if (!track) return;
      player.selectTextTrack(track);
    }
    this.refreshTracks();
  }

  // --- measurement -------------------------------------------------------------------------

  stats(): Stats {
    const video = this.video;
    const player = this.player;
    const s = player?.getStats();
    const active = this.activeVariant();
    const [ahead] = bufferedAhead(video);
    const ongoing = this.waitingSince !== null ? performance.now() - this.waitingSince : 0;
    const quality = "getVideoPlaybackQuality" in video ? video.getVideoPlaybackQuality() : null;
    return {
      time: video.currentTime,
      buffered_s: ahead,
      height: active?.height ?? video.videoHeight ?? 0,
      bandwidth_bps: active?.bandwidth ?? (s && Number.isFinite(s.streamBandwidth) ? s.streamBandwidth : 0),
      estimated_bps: s && Number.isFinite(s.estimatedBandwidth) ? s.estimatedBandwidth : 0,
      rebuffers: this.rebuffers,
      rebuffer_s: (this.rebufferMs + ongoing) / 1000,
      ttff_ms: this.firstFrameAt === null ? null : Math.max(0, this.firstFrameAt - this.options.t0),
      host: this.failover?.current ?? "",
      displayed_height: video.videoHeight,
      rendition: active?.height != null ? this.renditionName(active.height, active.videoBandwidth ?? active.bandwidth) : "",
      failovers: this.failover?.failovers ?? 0,
      dropped_frames: quality?.droppedVideoFrames ?? 0,
      paused: video.paused,
      ended: video.ended,
    };
  }

  private snapshot(): Snapshot {
    const st = this.stats();
    return {
      position_s: st.time,
      duration_s: this.video.duration,
      rendition: st.rendition,
      bitrate: st.bandwidth_bps,
      buffer_s: st.buffered_s,
      rebuffers: st.rebuffers,
    };
  }

  /** The lease lapsed (the tab slept, say): ask for a new one and keep playing, or explain. */
  private async restartLease(): Promise<void> {
    if (this.closed) return;
    try {
      const lease = await post<PlaybackStart>("/api/playback/start", { title_id: this.options.titleId, device_id: deviceId() });
      if (this.closed) return;
      const before = this.lease;
      this.lease = { ...lease, renditions: before?.renditions ?? lease.renditions };
      this.reporter?.renewLease(lease.lease_id, lease.heartbeat_interval_s);
      this.newUrls(lease, before);
    } catch (err) {
      this.fail(refusal(err));
    }
  }

  private scheduleRefresh(delayMs: number): void {
    if (this.refreshTimer !== null) window.clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => void this.refreshUrls(), delayMs);
  }

  /** Signed URLs from playback (a start or a refresh): the token for every request from now
   * on, the plan's height (it may have changed), the next refresh; a title whose video was
   * replaced meanwhile (another folder) is loaded again where it was. */
  private newUrls(answer: PlaybackRefresh | PlaybackStart, before: PlaybackStart | null): void {
    const token = tokenOf(answer.manifests.dash);
    if (token) this.urls?.set(token);
    const lease = this.lease;
    if (lease) {
      this.lease = { ...lease, lease_expires_at: answer.lease_expires_at, max_height: answer.max_height, manifests: answer.manifests, urls_expire_at: answer.urls_expire_at, urls_valid_s: answer.urls_valid_s };
    }
    const player = this.player;
    if (before && player) {
      if (answer.max_height !== before.max_height) player.configure({ restrictions: { maxHeight: answer.max_height } });
      if (unsigned(answer.manifests.dash) !== unsigned(before.manifests.dash) && this.failover) {
        void player.load(this.failover.url(answer.manifests.dash), this.video.currentTime).catch(() => undefined);
      }
    }
    this.scheduleRefresh(refreshDelayMs(answer.urls_valid_s));
  }

  /** New signed URLs before the current ones expire (its timer calls it, and a 403 while
   * streaming; so may a test). A lapsed stream starts again; a refusal is shown; a network
   * or service failure is tried again in half a minute. */
  refreshUrls(): Promise<void> {
    this.refreshing ??= this.askForUrls().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async askForUrls(): Promise<void> {
    const lease = this.lease;
    if (this.closed || !lease) return;
    try {
      const answer = await post<PlaybackRefresh>("/api/playback/refresh", { lease_id: lease.lease_id });
      if (this.closed) return;
      this.newUrls(answer, lease);
    } catch (err) {
      if (this.closed) return;
      if (err instanceof ApiError && (err.status === 404 || err.status === 410) && err.code.startsWith("lease_")) {
        await this.restartLease();
      } else if (err instanceof ApiError && [401, 403, 404, 409].includes(err.status)) {
        this.fail(refusal(err)); // signed out, refused, or the title is gone
      } else {
        this.scheduleRefresh(30_000);
      }
    }
  }

  get finished(): boolean {
    const d = this.video.duration;
    return this.video.ended || (Number.isFinite(d) && d > 0 && this.video.currentTime >= d - 1);
  }

  /** Stop reporting, release the lease and the player. `unloading`: the page is going away. */
  close(unloading = false): void {
    if (this.closed) return;
    this.closed = true;
    if (this.refreshTimer !== null) window.clearTimeout(this.refreshTimer);
    const finished = this.finished;
    void this.reporter?.stop({ finished, unloading });
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    const player = this.player;
    if (player && !unloading) void player.destroy().catch(() => undefined);
    if (window.matinee?.engine === this) delete window.matinee;
  }
}
