// A title's page: artwork, synopsis, cast, play (or resume), and a series' episodes by season.

import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, get } from "../../common/api";
import { clock, runtime } from "../../common/format";
import { Link, navigate } from "../../common/router";
import { markPlayIntent, report } from "../session";
import type { Bookmark, ContinueItem, Episode, Page as PageOf, TitleDetail } from "../types";
import { Maturity, Page, PlayIcon, Poster, Spinner } from "../components/ui";

/** Where this profile is in a title, or null (never watched / finished / no history). */
async function bookmarkOf(titleId: string, signal: AbortSignal): Promise<Bookmark | null> {
  try {
    const mark = await get<Bookmark>(`/api/history/bookmarks/${titleId}`, signal);
    return mark.finished || mark.position_s < 1 ? null : mark;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) return null;
    throw err;
  }
}

interface Resume {
  id: string;
  label: string;
  progress: number | null;
}

function EpisodeItem({ ep }: { ep: Episode }): JSX.Element {
  const go = (): void => {
    if (!ep.playable) return;
    markPlayIntent();
    navigate(`/watch/${ep.id}`);
  };
  return (
    <li class={`episode ${ep.playable ? "" : "unplayable"}`} data-testid="episode" data-title-id={ep.id}>
      <span class="episode-number" aria-hidden="true">
        {ep.episode}
      </span>
      <button type="button" class="episode-thumb" onClick={go} disabled={!ep.playable} aria-label={`Play episode ${ep.episode}: ${ep.name}`}>
        <Poster artwork={ep.artwork} name={ep.name} decorative />
        {ep.playable ? (
          <span class="thumb-play" aria-hidden="true">
            <PlayIcon />
          </span>
        ) : null}
      </button>
      <div class="episode-text">
        <div class="episode-head">
          <h3>{ep.name}</h3>
          <span class="muted">{runtime(ep.runtime_s)}</span>
        </div>
        <p>{ep.synopsis}</p>
        {!ep.playable ? <p class="muted small">Coming soon</p> : null}
      </div>
    </li>
  );
}

export function Title({ id }: { id: string }): JSX.Element {
  const [title, setTitle] = useState<TitleDetail | null>(null);
  const [missing, setMissing] = useState<string | null>(null);
  const [season, setSeason] = useState<number | null>(null);
  const [resume, setResume] = useState<Resume | null>(null);

  useEffect(() => {
    const ctl = new AbortController();
    setTitle(null);
    setMissing(null);
    setResume(null);
    (async () => {
      try {
        const detail = await get<TitleDetail>(`/api/catalog/titles/${id}`, ctl.signal);
        setTitle(detail);
        setSeason(detail.seasons?.[0]?.season ?? detail.season ?? null);
        if (detail.kind === "series") {
          const episodes = (detail.seasons ?? []).flatMap((s) => s.episodes);
          const page = await get<PageOf<ContinueItem>>("/api/history/continue-watching?limit=50", ctl.signal).catch(() => null);
          const hit = page?.items.find((item) => episodes.some((e) => e.id === item.title_id));
          const ep = hit ? episodes.find((e) => e.id === hit.title_id) : undefined;
          if (hit && ep) {
            setSeason(ep.season);
            setResume({
              id: ep.id,
              label: `${hit.kind === "next_episode" || hit.position_s < 1 ? "Play" : "Resume"} S${ep.season}:E${ep.episode}`,
              progress: hit.kind === "resume" ? hit.progress : null,
            });
          }
        } else {
          const mark = await bookmarkOf(id, ctl.signal).catch(() => null);
          if (mark) {
            setResume({
              id,
              label: `Resume from ${clock(mark.position_s)}`,
              progress: mark.duration_s > 0 ? mark.position_s / mark.duration_s : null,
            });
          }
        }
      } catch (err) {
        if (err instanceof DOMException) return;
        if (err instanceof ApiError && err.status === 404) setMissing("This title is not available.");
        else {
          setMissing("This title could not be loaded.");
          report(err);
        }
      }
    })();
    return () => ctl.abort();
  }, [id]);

  if (missing) {
    return (
      <Page class="title-page">
        <p class="empty">
          {missing} <Link href="/">Back to home</Link>
        </p>
      </Page>
    );
  }
  if (!title) {
    return (
      <Page class="title-page">
        <Spinner label="Loading the title" />
      </Page>
    );
  }

  const seasons = title.seasons ?? [];
  const episodes = seasons.find((s) => s.season === season)?.episodes ?? [];
  const firstPlayable = seasons.flatMap((s) => s.episodes).find((e) => e.playable);
  const playId = resume?.id ?? (title.kind === "series" ? firstPlayable?.id : title.playable ? title.id : undefined);
  const art = title.artwork.poster ? title.artwork : firstPlayable?.artwork ?? title.artwork;
  const genres = title.genres.map((g) => g.name).join(" · ");
  const label =
    resume?.label ??
    (title.kind === "series" && firstPlayable ? `Play S${firstPlayable.season}:E${firstPlayable.episode}` : "Play");

  return (
    <Page class="title-page" testid="title-page">
      <section class="title-hero">
        <div class="title-backdrop">
          <Poster artwork={art} name={title.name} eager />
        </div>
        <div class="title-info">
          {title.kind === "episode" && title.series_id ? (
            <p class="eyebrow">
              <Link href={`/title/${title.series_id}`}>Back to the series</Link> · Season {title.season}, episode {title.episode}
            </p>
          ) : null}
          <h1 data-testid="title-name">{title.name}</h1>
          <p class="title-meta">
            <span>{title.release_year}</span>
            <Maturity level={title.maturity} />
            {title.runtime_s ? <span>{runtime(title.runtime_s)}</span> : null}
            {title.kind === "series" ? <span>{seasons.length === 1 ? "1 season" : `${seasons.length} seasons`}</span> : null}
            {title.max_height ? <span class="badge">{title.max_height >= 2160 ? "4K" : title.max_height >= 720 ? "HD" : "SD"}</span> : null}
          </p>
          <div class="title-actions">
            {playId ? (
              <Link href={`/watch/${playId}`} class="button button-light" data-testid="play-button" onClick={markPlayIntent}>
                <PlayIcon /> {label}
              </Link>
            ) : (
              <button type="button" class="button button-light" data-testid="play-button" disabled>
                Not available to play yet
              </button>
            )}
            {resume && resume.id === title.id ? (
              <Link href={`/watch/${title.id}?t=0`} class="button button-grey" onClick={markPlayIntent}>
                Start over
              </Link>
            ) : null}
          </div>
          {resume?.progress != null ? (
            <span class="progress inline" role="progressbar" aria-label="Watched" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(resume.progress * 100)}>
              <span style={{ width: `${Math.max(2, Math.min(100, resume.progress * 100))}%` }} />
            </span>
          ) : null}
          <p class="synopsis" data-testid="synopsis">
            {title.synopsis}
          </p>
          {genres ? (
            <p class="credits">
              <span class="muted">Genres: </span>
              {genres}
            </p>
          ) : null}
          {title.cast.length > 0 ? (
            <p class="credits">
              <span class="muted">Cast: </span>
              {title.cast
                .slice(0, 8)
                .map((c) => (c.character ? `${c.name} (${c.character})` : c.name))
                .join(", ")}
            </p>
          ) : null}
        </div>
      </section>
      {title.kind === "series" ? (
        <section class="episodes" aria-labelledby="episodes-title">
          <div class="episodes-head">
            <h2 id="episodes-title">Episodes</h2>
            {seasons.length > 0 ? (
              <label class="season-label">
                <span class="sr-only">Season</span>
                <select data-testid="season-select" value={String(season ?? "")} onChange={(e) => setSeason(Number(e.currentTarget.value))}>
                  {seasons.map((s) => (
                    <option value={String(s.season)} key={s.season}>
                      Season {s.season} ({s.episodes.length} {s.episodes.length === 1 ? "episode" : "episodes"})
                    </option>
                  ))}
                </select>
              </label>
            ) : null}
          </div>
          {episodes.length === 0 ? (
            <p class="muted">No episodes to watch yet.</p>
          ) : (
            <ol class="episode-list">
              {episodes.map((ep) => (
                <EpisodeItem ep={ep} key={ep.id} />
              ))}
            </ol>
          )}
        </section>
      ) : null}
    </Page>
  );
}
