// The player page (/watch/{id}): the video, custom controls (seek bar with trickplay,
// quality / audio / subtitle menus, volume, fullscreen, keyboard), the resume position,
// refusals in plain words, and the next episode's countdown.

import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { get } from "../../common/api";
import { clock } from "../../common/format";
import { Link, navigate } from "../../common/router";
import { Store, useStore } from "../../common/store";
import { markPlayIntent, me, playIntent } from "../session";
import type { Episode, TitleDetail } from "../types";
import { Spinner } from "../components/ui";
import { type EngineState, PlayerEngine, initialState } from "./engine";
import { type Thumb, loadTrickplay, thumbAt, warm } from "./trickplay";

const SEEK_STEP_S = 10;
const VOLUME_STEP = 0.1;
const IDLE_MS = 3000;
const NEXT_COUNTDOWN_S = 8;

interface NextUp {
  episode: Episode;
  seriesName: string;
}

/** The episode after `title` in its series, if any. */
async function nextEpisode(title: TitleDetail): Promise<NextUp | null> {
  if (title.kind !== "episode" || !title.series_id) return null;
  const series = await get<TitleDetail>(`/api/catalog/titles/${title.series_id}`);
  const episodes = (series.seasons ?? [])
    .flatMap((s) => s.episodes)
    .sort((a, b) => a.season - b.season || a.episode - b.episode);
  const here = episodes.findIndex((e) => e.id === title.id);
  if (here < 0) return null;
  const next = episodes.slice(here + 1).find((e) => e.playable);
  return next ? { episode: next, seriesName: series.name } : null;
}

function Icon({ name }: { name: string }): JSX.Element {
  const paths: Record<string, string> = {
    play: "M7 4.5v15l13-7.5z",
    pause: "M6 4h4v16H6zM14 4h4v16h-4z",
    back10: "M12 5V1L7 6l5 5V7a6 6 0 1 1-6 6H4a8 8 0 1 0 8-8z",
    fwd10: "M12 5V1l5 5-5 5V7a6 6 0 1 0 6 6h2a8 8 0 1 1-8-8z",
    volume: "M4 9v6h4l5 5V4L8 9zM16 7.5a5 5 0 0 1 0 9M18.5 5a8.5 8.5 0 0 1 0 14",
    muted: "M4 9v6h4l5 5V4L8 9zM16 9l5 6M21 9l-5 6",
    full: "M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5",
    exitfull: "M9 4v5H4M20 9h-5V4M15 20v-5h5M4 15h5v5",
    backarrow: "M15 4l-8 8 8 8",
  };
  const stroke = ["volume", "muted", "full", "exitfull", "backarrow"].includes(name);
  return (
    <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
      {stroke ? (
        <path d={paths[name]} fill={name === "volume" || name === "muted" ? "none" : "none"} stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" />
      ) : (
        <path d={paths[name]} fill="currentColor" />
      )}
      {name === "back10" || name === "fwd10" ? (
        <text x="12" y="16.5" font-size="7" text-anchor="middle" fill="currentColor" font-family="sans-serif" font-weight="700">
          10
        </text>
      ) : null}
    </svg>
  );
}

function SeekBar(props: { engine: PlayerEngine; state: EngineState; thumbs: Thumb[] }): JSX.Element {
  const { engine, state, thumbs } = props;
  const bar = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState<{ x: number; time: number } | null>(null);
  const [dragging, setDragging] = useState(false);
  const duration = state.duration || 0;

  const at = (clientX: number): { x: number; time: number } => {
    const rect = bar.current!.getBoundingClientRect();
    const x = Math.min(Math.max(0, clientX - rect.left), rect.width);
    return { x, time: rect.width > 0 ? (x / rect.width) * duration : 0 };
  };
  const onMove = (e: PointerEvent): void => {
    if (!duration) return;
    const point = at(e.clientX);
    setHover(point);
    const thumb = thumbAt(thumbs, point.time);
    if (thumb) warm(thumb.url);
    if (dragging) engine.seek(point.time);
  };
  const onDown = (e: PointerEvent): void => {
    if (!duration) return;
    (e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId);
    setDragging(true);
    const point = at(e.clientX);
    setHover(point);
    engine.seek(point.time);
  };
  const onUp = (e: PointerEvent): void => {
    (e.currentTarget as HTMLElement).releasePointerCapture?.(e.pointerId);
    setDragging(false);
  };
  const onKey = (e: KeyboardEvent): void => {
    if (e.key === "Home") {
      e.preventDefault();
      engine.seek(0);
    } else if (e.key === "End") {
      e.preventDefault();
      engine.seek(duration);
    }
  };

  const played = duration ? (state.time / duration) * 100 : 0;
  const buffered = duration ? (Math.min(state.bufferedEnd, duration) / duration) * 100 : 0;
  const thumb = hover ? thumbAt(thumbs, hover.time) : null;
  const width = bar.current?.getBoundingClientRect().width ?? 0;
  const previewWidth = thumb ? thumb.w : 90;
  const left = hover ? Math.min(Math.max(hover.x - previewWidth / 2, 0), Math.max(0, width - previewWidth)) : 0;
  return (
    <div
      class={`seek ${dragging ? "dragging" : ""}`}
      ref={bar}
      data-testid="seek-bar"
      role="slider"
      tabIndex={0}
      aria-label="Seek"
      aria-valuemin={0}
      aria-valuemax={Math.round(duration)}
      aria-valuenow={Math.round(state.time)}
      aria-valuetext={`${clock(state.time)} of ${clock(duration)}`}
      onPointerMove={onMove}
      onPointerDown={onDown}
      onPointerUp={onUp}
      onPointerLeave={() => {
        if (!dragging) setHover(null);
      }}
      onKeyDown={onKey}
    >
      <div class="seek-track">
        <div class="seek-buffered" style={{ width: `${buffered}%` }} />
        <div class="seek-played" style={{ width: `${played}%` }} />
        <div class="seek-knob" style={{ left: `${played}%` }} />
      </div>
      {hover ? (
        <div class="trickplay" data-testid="trickplay-preview" style={{ left: `${left}px` }} aria-hidden="true">
          {thumb ? (
            <div
              class="trickplay-image"
              data-thumb-url={thumb.url}
              style={{
                width: `${thumb.w}px`,
                height: `${thumb.h}px`,
                backgroundImage: `url("${thumb.url}")`,
                backgroundPosition: `-${thumb.x}px -${thumb.y}px`,
              }}
            />
          ) : null}
          <span class="trickplay-time">{clock(hover.time)}</span>
        </div>
      ) : null}
    </div>
  );
}

function Menu(props: {
  testid: string;
  label: string;
  value: string;
  options: { value: string; label: string }[];
  onChange: (value: string) => void;
}): JSX.Element {
  return (
    <label class="menu-select">
      <span class="menu-label">{props.label}</span>
      <select data-testid={props.testid} aria-label={props.label} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.options.map((o) => (
          <option value={o.value} key={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName);
}

export function Watch({ id, startAt }: { id: string; startAt: number | null }): JSX.Element {
  const videoRef = useRef<HTMLVideoElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  const [engine, setEngine] = useState<PlayerEngine | null>(null);
  const [title, setTitle] = useState<TitleDetail | null>(null);
  const [next, setNext] = useState<NextUp | null>(null);
  const [thumbs, setThumbs] = useState<Thumb[]>([]);
  const [idle, setIdle] = useState(false);
  const [fullscreen, setFullscreen] = useState(false);
  const [countdown, setCountdown] = useState<number | null>(null);
  const [dismissed, setDismissed] = useState(false);
  const [showResume, setShowResume] = useState(true);
  const [attempt, setAttempt] = useState(0);

  // The play itself.
  useEffect(() => {
    const video = videoRef.current!;
    const box = boxRef.current!;
    const t0 = playIntent.at ?? performance.now();
    playIntent.at = null;
    const eng = new PlayerEngine(video, box, {
      titleId: id,
      startAt,
      t0,
      language: () => me.get()?.profile?.language ?? null,
    });
    setEngine(eng);
    void eng.open();
    const onHide = (): void => eng.close(true);
    window.addEventListener("pagehide", onHide);
    return () => {
      window.removeEventListener("pagehide", onHide);
      eng.close(false);
    };
  }, [id, startAt, attempt]);

  // What is playing: the name, the next episode, the trickplay index.
  useEffect(() => {
    const ctl = new AbortController();
    get<TitleDetail>(`/api/catalog/titles/${id}`, ctl.signal)
      .then(async (detail) => {
        setTitle(detail);
        document.title = `${detail.name} · matinee`;
        setNext(await nextEpisode(detail).catch(() => null));
      })
      .catch(() => undefined);
    return () => {
      ctl.abort();
      document.title = "matinee";
    };
  }, [id]);

  const state = useStore(engine?.state ?? placeholder);
  const started = state.phase === "ready" && (state.time > 0 || !state.paused);

  // The trickplay index, once the video plays (so it never competes with the first segments).
  useEffect(() => {
    if (!started || thumbs.length > 0) return;
    const ctl = new AbortController();
    const fromTitle = title?.artwork.trickplay ?? null;
    const assetId = engine?.lease?.asset_id;
    (async () => {
      let url = fromTitle;
      if (!url && assetId) {
        const asset = await get<{ trickplay?: string | null; thumbnails?: { trickplay?: string | null } }>(`/api/assets/${assetId}`, ctl.signal).catch(() => null);
        url = asset?.thumbnails?.trickplay ?? asset?.trickplay ?? null;
      }
      if (url) setThumbs(await loadTrickplay(url, ctl.signal).catch(() => []));
    })();
    return () => ctl.abort();
  }, [started, title, engine]);

  // The resume note fades after a few seconds (its number stays in the DOM for tests).
  useEffect(() => {
    if (!started) return;
    const timer = window.setTimeout(() => setShowResume(false), 5000);
    return () => window.clearTimeout(timer);
  }, [started]);

  // Controls hide while the video plays untouched.
  const poke = useRef<() => void>(() => undefined);
  useEffect(() => {
    let timer = 0;
    poke.current = () => {
      setIdle(false);
      window.clearTimeout(timer);
      timer = window.setTimeout(() => setIdle(true), IDLE_MS);
    };
    poke.current();
    return () => window.clearTimeout(timer);
  }, []);

  // Fullscreen.
  useEffect(() => {
    const onChange = (): void => setFullscreen(document.fullscreenElement === boxRef.current);
    document.addEventListener("fullscreenchange", onChange);
    return () => document.removeEventListener("fullscreenchange", onChange);
  }, []);
  const toggleFullscreen = (): void => {
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
    else void boxRef.current?.requestFullscreen?.().catch(() => undefined);
  };

  // Keyboard: space/k play-pause, arrows seek and volume, f fullscreen, m mute.
  useEffect(() => {
    if (!engine) return;
    const onKey = (e: KeyboardEvent): void => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (isTyping(e.target)) return;
      const onButton = e.target instanceof HTMLButtonElement || (e.target instanceof HTMLElement && e.target.tagName === "A");
      const video = engine.video;
      let handled = true;
      switch (e.key) {
        case " ":
        case "Spacebar":
          if (onButton) return; // the button's own click
          engine.toggle();
          break;
        case "k":
        case "K":
          engine.toggle();
          break;
        case "ArrowLeft":
          engine.seekBy(-SEEK_STEP_S);
          break;
        case "ArrowRight":
          engine.seekBy(SEEK_STEP_S);
          break;
        case "ArrowUp":
          engine.setVolume(video.volume + VOLUME_STEP);
          break;
        case "ArrowDown":
          engine.setVolume(video.volume - VOLUME_STEP);
          break;
        case "f":
        case "F":
          toggleFullscreen();
          break;
        case "m":
        case "M":
          engine.toggleMute();
          break;
        default:
          handled = false;
      }
      if (handled) {
        e.preventDefault();
        poke.current();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [engine]);

  // Next episode: a countdown card near the end, then on to it.
  const duration = state.duration || 0;
  const remaining = duration > 0 ? duration - state.time : Infinity;
  const lead = Math.min(15, Math.max(4, duration * 0.2));
  const nearEnd = next !== null && state.phase === "ready" && duration > 0 && (remaining <= lead || state.ended);
  const goNext = (): void => {
    if (!next) return;
    markPlayIntent();
    navigate(`/watch/${next.episode.id}`, { replace: true });
  };
  useEffect(() => {
    if (!nearEnd || dismissed) {
      setCountdown(null);
      return;
    }
    setCountdown((c) => c ?? NEXT_COUNTDOWN_S);
  }, [nearEnd, dismissed]);
  const counting = countdown !== null && !dismissed && (!state.paused || state.ended);
  useEffect(() => {
    if (!counting) return;
    const timer = window.setTimeout(() => {
      if (countdown !== null && countdown <= 1) goNext();
      else setCountdown((c) => (c === null ? null : c - 1));
    }, 1000);
    return () => window.clearTimeout(timer);
  }, [counting, countdown]);

  const backHref = title?.kind === "episode" && title.series_id ? `/title/${title.series_id}` : `/title/${id}`;
  const heading =
    title?.kind === "episode" && next
      ? `${next.seriesName} · S${title.season}:E${title.episode} ${title.name}`
      : title?.kind === "episode"
        ? `S${title.season}:E${title.episode} ${title.name}`
        : (title?.name ?? "");
  const problem = state.problem;
  const qualityOptions = [
    { value: "auto", label: state.quality === "auto" && state.autoHeight ? `Auto (${state.autoHeight}p)` : "Auto" },
    ...state.qualities,
  ];
  const textOptions = [{ value: "off", label: "Off" }, ...state.texts];

  return (
    <main class="watch-page" id="main">
      <div
        ref={boxRef}
        class={`player ${idle && !state.paused && !problem ? "idle" : ""} ${state.paused ? "paused" : ""} ${problem ? "has-error" : ""}`}
        data-testid="player"
        data-phase={state.phase}
        onPointerMove={() => poke.current()}
        onPointerDown={() => poke.current()}
        onFocusCapture={() => poke.current()}
      >
        <video
          ref={videoRef}
          playsInline
          preload="auto"
          aria-label={title ? `Video: ${title.name}` : "Video"}
          onClick={() => engine?.toggle()}
          onDblClick={toggleFullscreen}
        />

        <div class="player-top">
          <Link href={backHref} class="icon-button back" aria-label="Back to the title">
            <Icon name="backarrow" />
          </Link>
          <h1 class="player-title">{heading}</h1>
        </div>

        {state.phase === "starting" || (state.waiting && !state.paused && !problem) ? (
          <div class="player-center">
            <Spinner label={state.phase === "starting" ? "Starting the video" : "Loading"} />
          </div>
        ) : null}

        {state.phase === "ready" && state.paused && !state.ended && !state.waiting ? (
          <button type="button" class="big-play" aria-label="Play" onClick={() => void engine?.play()}>
            <Icon name="play" />
          </button>
        ) : null}

        {state.needsGesture && state.muted ? (
          <button type="button" class="unmute" onClick={() => engine?.toggleMute()}>
            <Icon name="muted" /> Tap to unmute
          </button>
        ) : null}

        {problem ? (
          <div class="player-error" role="alert">
            <p data-testid="player-error" data-code={problem.code}>
              {problem.message}
            </p>
            <div class="player-error-actions">
              {problem.action ? (
                <Link href={problem.action.href} class="button button-light">
                  {problem.action.label}
                </Link>
              ) : null}
              <button type="button" class="button button-grey" data-testid="player-retry" onClick={() => setAttempt(attempt + 1)}>
                Try again
              </button>
              <Link href={backHref} class="button button-ghost">
                Back
              </Link>
            </div>
          </div>
        ) : null}

        <div class={`resume-note ${showResume && (state.resumeAt ?? 0) > 0 ? "shown" : ""}`} role="status">
          {(state.resumeAt ?? 0) > 0 ? (
            <>
              {startAt === null ? "Resuming from" : "Starting at"} {clock(state.resumeAt ?? 0)}{" "}
            </>
          ) : (
            <>Starting from the beginning </>
          )}
          <span class="sr-only">(</span>
          <span data-testid="resume-position" class="resume-seconds">
            {state.resumeAt === null ? "" : String(state.resumeAt)}
          </span>
          <span class="sr-only"> seconds)</span>
        </div>

        {countdown !== null && next ? (
          <aside class="next-episode" data-testid="next-episode" aria-label="Next episode" data-title-id={next.episode.id}>
            <div class="next-text">
              <span class="next-eyebrow">Next episode in {countdown}</span>
              <strong>
                S{next.episode.season}:E{next.episode.episode} {next.episode.name}
              </strong>
            </div>
            <div class="next-actions">
              <button type="button" class="button button-light small" onClick={goNext}>
                Play now
              </button>
              <button type="button" class="button button-ghost small" onClick={() => setDismissed(true)}>
                Cancel
              </button>
            </div>
          </aside>
        ) : null}

        {dismissed && state.ended && next ? (
          <aside class="next-episode quiet">
            <button type="button" class="button button-light small" onClick={goNext}>
              Play next episode
            </button>
          </aside>
        ) : null}

        <div class="controls" aria-label="Player controls" role="group">
          {engine ? <SeekBar engine={engine} state={state} thumbs={thumbs} /> : null}
          <div class="control-row">
            <button type="button" class="icon-button" data-testid="play-pause" aria-label={state.paused ? "Play (k)" : "Pause (k)"} onClick={() => engine?.toggle()}>
              <Icon name={state.paused ? "play" : "pause"} />
            </button>
            <button type="button" class="icon-button" aria-label="Back 10 seconds (left arrow)" onClick={() => engine?.seekBy(-SEEK_STEP_S)}>
              <Icon name="back10" />
            </button>
            <button type="button" class="icon-button" aria-label="Forward 10 seconds (right arrow)" onClick={() => engine?.seekBy(SEEK_STEP_S)}>
              <Icon name="fwd10" />
            </button>
            <div class="volume">
              <button type="button" class="icon-button" aria-label={state.muted ? "Unmute (m)" : "Mute (m)"} onClick={() => engine?.toggleMute()}>
                <Icon name={state.muted || state.volume === 0 ? "muted" : "volume"} />
              </button>
              <input
                type="range"
                min={0}
                max={1}
                step={0.05}
                aria-label="Volume"
                value={state.muted ? 0 : state.volume}
                onInput={(e) => engine?.setVolume(Number(e.currentTarget.value))}
              />
            </div>
            <span class="time" aria-live="off">
              {clock(state.time)} / {clock(duration)}
            </span>
            <span class="spacer" />
            <Menu testid="quality-menu" label="Quality" value={state.quality} options={qualityOptions} onChange={(v) => engine?.selectQuality(v)} />
            <Menu
              testid="audio-menu"
              label="Audio"
              value={state.audio}
              options={state.audios.length ? state.audios : [{ value: "", label: "Default" }]}
              onChange={(v) => engine?.selectAudio(v)}
            />
            <Menu testid="subtitle-menu" label="Subtitles" value={state.text} options={textOptions} onChange={(v) => engine?.selectText(v)} />
            {next ? (
              <button type="button" class="icon-button next-button" aria-label={`Next episode: ${next.episode.name}`} onClick={goNext}>
                <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
                  <path d="M5 4.5v15l11-7.5zM17 4h2.5v16H17z" fill="currentColor" />
                </svg>
              </button>
            ) : null}
            <button type="button" class="icon-button" aria-label={fullscreen ? "Exit full screen (f)" : "Full screen (f)"} onClick={toggleFullscreen}>
              <Icon name={fullscreen ? "exitfull" : "full"} />
            </button>
          </div>
        </div>
      </div>
    </main>
  );
}

const placeholder = new Store<EngineState>(initialState(1, false));
