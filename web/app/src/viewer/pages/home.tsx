// The home page: a featured title, then the homepage service's rows (continue watching with
// progress, new, popular, one per genre...).

import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { get } from "../../common/api";
import { Link } from "../../common/router";
import { markPlayIntent, report } from "../session";
import type { Card, HomePage, Row, TitleDetail } from "../types";
import { Maturity, Page, PlayIcon, Poster, Spinner, TitleCard } from "../components/ui";

function RowView({ row }: { row: Row }): JSX.Element {
  const track = useRef<HTMLDivElement>(null);
  const scroll = (direction: number): void => {
    const el = track.current;
    if (el) el.scrollBy({ left: direction * el.clientWidth * 0.85, behavior: "smooth" });
  };
  const headingId = `row-${row.id.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  return (
    <section class={`row row-${row.kind}`} data-testid="row" data-row-id={row.id} aria-labelledby={headingId}>
      <h2 id={headingId}>{row.title}</h2>
      <div class="row-body">
        <button type="button" class="row-arrow left" aria-label={`Scroll ${row.title} left`} onClick={() => scroll(-1)}>
          ‹
        </button>
        <div class="row-track" ref={track}>
          {row.items.map((card) => (
            <TitleCard card={card} key={card.id} rowId={row.id} />
          ))}
        </div>
        <button type="button" class="row-arrow right" aria-label={`Scroll ${row.title} right`} onClick={() => scroll(1)}>
          ›
        </button>
      </div>
    </section>
  );
}

/** The big title at the top: the first new (or popular) title with artwork. */
function Hero({ card }: { card: Card }): JSX.Element {
  const [detail, setDetail] = useState<TitleDetail | null>(null);
  useEffect(() => {
    const ctl = new AbortController();
    get<TitleDetail>(`/api/catalog/titles/${card.id}`, ctl.signal)
      .then(setDetail)
      .catch(() => undefined);
    return () => ctl.abort();
  }, [card.id]);
  const firstEpisode = detail?.seasons?.flatMap((s) => s.episodes).find((e) => e.playable);
  const playId = card.kind === "series" ? firstEpisode?.id : card.id;
  return (
    <section class="hero" aria-label="Featured">
      <div class="hero-art">
        <Poster artwork={card.artwork.poster ? card.artwork : firstEpisode?.artwork ?? card.artwork} name={card.name} eager />
      </div>
      <div class="hero-text">
        <h1 class="hero-title">{card.name}</h1>
        <p class="hero-meta">
          <Maturity level={card.maturity} />
          {card.genres.map((g) => g.name).join(" · ")}
        </p>
        {detail?.synopsis ? <p class="hero-synopsis">{detail.synopsis}</p> : null}
        <div class="hero-actions">
          {playId ? (
            <Link href={`/watch/${playId}`} class="button button-light" onClick={markPlayIntent}>
              <PlayIcon /> Play
            </Link>
          ) : null}
          <Link href={`/title/${card.id}`} class="button button-grey">
            More info
          </Link>
        </div>
      </div>
    </section>
  );
}

export function Home(): JSX.Element {
  const [page, setPage] = useState<HomePage | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    const ctl = new AbortController();
    get<HomePage>("/api/homepage", ctl.signal)
      .then(setPage)
      .catch((err: unknown) => {
        report(err);
        setFailed(true);
      });
    return () => ctl.abort();
  }, []);

  if (!page) {
    return (
      <Page class="home-page" testid="home">
        {failed ? <p class="empty">The home page could not be loaded. Try again in a moment.</p> : <Spinner label="Loading your home page" />}
      </Page>
    );
  }
  const rows = page.rows.filter((r) => r.items.length > 0);
  const featured =
    rows.find((r) => r.kind === "new")?.items.find((c) => c.artwork.poster) ??
    rows.find((r) => r.kind === "popular")?.items[0] ??
    rows[0]?.items[0];
  return (
    <Page class="home-page" testid="home">
      {featured ? <Hero card={featured} /> : null}
      {page.degraded.length > 0 ? (
        <p class="notice" role="status">
          Some rows may be missing or a little out of date right now.
        </p>
      ) : null}
      {rows.length === 0 ? <p class="empty">Nothing to watch here yet. New titles are on their way.</p> : null}
      <div class="rows">
        {rows.map((row) => (
          <RowView row={row} key={row.id} />
        ))}
      </div>
    </Page>
  );
}
