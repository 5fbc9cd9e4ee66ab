// Small pieces every page uses: the header, the error banner, title cards, posters, avatars.

import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { post } from "../../common/api";
import { Link, navigate, useLocation } from "../../common/router";
import { useStore } from "../../common/store";
import { banner, clearBanner, markPlayIntent, me, report } from "../session";
import type { Artwork, Card, Profile, TitleSummary } from "../types";

/** A colour for a title with no artwork yet, stable per name. */
function hue(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) % 360;
  return h;
}

export function Poster(props: {
  artwork: Artwork;
  name: string;
  class?: string;
  eager?: boolean;
  /** The name is written next to it already: the picture adds nothing for a screen reader. */
  decorative?: boolean;
}): JSX.Element {
  const [broken, setBroken] = useState(false);
  const src = props.artwork.poster;
  const cls = `poster ${props.class ?? ""}`;
  if (!src || broken) {
    const h = hue(props.name);
    return (
      <div
        class={`${cls} poster-blank`}
        style={{ background: `linear-gradient(135deg, hsl(${h} 55% 32%), hsl(${(h + 50) % 360} 60% 14%))` }}
        role={props.decorative ? undefined : "img"}
        aria-label={props.decorative ? undefined : props.name}
        aria-hidden={props.decorative ? "true" : undefined}
      >
        <span>{props.name}</span>
      </div>
    );
  }
  return (
    <img
      class={cls}
      src={src}
      alt={props.decorative ? "" : props.name}
      loading={props.eager ? "eager" : "lazy"}
      decoding="async"
      onError={() => setBroken(true)}
    />
  );
}

export function Maturity({ level }: { level: number }): JSX.Element {
  return (
    <span class="maturity" title={level === 0 ? "For everyone" : `Rated ${level}+`}>
      {level === 0 ? "ALL" : `${level}+`}
    </span>
  );
}

/** A title in a row or in search results: a link to its page. */
export function TitleCard(props: { card: Card | TitleSummary; rowId?: string }): JSX.Element {
  const c = props.card;
  const progress = "progress" in c ? c.progress : null;
  const sub =
    "series_name" in c && c.series_name
      ? `${c.series_name}${c.season != null && c.episode != null ? ` · S${c.season}:E${c.episode}` : ""}`
      : null;
  const resumable = progress != null && c.kind !== "series";
  return (
    <div class="card-wrap">
      <Link class="title-card" data-testid="title-card" data-title-id={c.id} href={`/title/${c.id}`}>
        <Poster artwork={c.artwork} name={c.name} decorative />
        <span class="card-caption">
          <span class="card-name">{c.name}</span>
          {sub ? <span class="card-sub">{sub}</span> : null}
        </span>
        {progress != null ? (
          <span class="progress" role="progressbar" aria-label="Watched" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(progress * 100)}>
            <span style={{ width: `${Math.max(2, Math.min(100, progress * 100))}%` }} />
          </span>
        ) : null}
      </Link>
      {resumable ? (
        <Link class="card-play" href={`/watch/${c.id}`} aria-label={`Resume ${c.name}`} title="Resume" onClick={markPlayIntent}>
          <PlayIcon />
        </Link>
      ) : null}
    </div>
  );
}

export function PlayIcon(): JSX.Element {
  return (
    <svg viewBox="0 0 24 24" width="1em" height="1em" aria-hidden="true">
      <path d="M7 4.5v15l13-7.5z" fill="currentColor" />
    </svg>
  );
}

/** The avatar drawing (an emoji by CSS, so it adds no text to the element it sits in). */
export function Avatar(props: { avatar: string; kids?: boolean; size?: "s" | "l" }): JSX.Element {
  return <span class={`avatar avatar-${props.size ?? "s"}`} data-avatar={props.avatar} data-kids={props.kids ? "true" : undefined} aria-hidden="true" />;
}

export function ErrorBanner(): JSX.Element | null {
  const text = useStore(banner);
  const location = useLocation();
  // A banner belongs to the page it was raised on.
  useEffect(() => clearBanner(), [location.href]);
  if (!text) return null;
  return (
    <div class="error-banner" data-testid="error-banner" role="alert">
      <span>{text}</span>
      <button type="button" class="icon-button" aria-label="Dismiss" onClick={clearBanner}>
        <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
          <path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" />
        </svg>
      </button>
    </div>
  );
}

export function Spinner({ label }: { label?: string }): JSX.Element {
  return (
    <div class="spinner-wrap" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      <span class="sr-only">{label ?? "Loading"}</span>
    </div>
  );
}

export async function signOut(): Promise<void> {
  try {
    await post("/api/identity/signout");
  } catch (err) {
    report(err);
  }
  me.set(null);
  navigate("/signin");
}

export function Header(): JSX.Element {
  const who = useStore(me);
  const location = useLocation();
  const [open, setOpen] = useState(false);
  const [scrolled, setScrolled] = useState(false);
  useEffect(() => {
    const onScroll = (): void => setScrolled(window.scrollY > 10);
    window.addEventListener("scroll", onScroll, { passive: true });
    return () => window.removeEventListener("scroll", onScroll);
  }, []);
  useEffect(() => setOpen(false), [location.href]);
  const profile: Profile | null = who?.profile ?? null;
  const inApp = who != null && profile != null;
  return (
    <header class={`site-header ${scrolled ? "scrolled" : ""}`}>
      <Link href="/" class="logo" aria-label="matinee home">
        matinee
      </Link>
      {inApp ? (
        <nav class="main-nav" aria-label="Main">
          <Link href="/" class={location.path === "/" ? "active" : ""}>
            Home
          </Link>
          <Link href="/search" class={location.path === "/search" ? "active" : ""}>
            Search
          </Link>
        </nav>
      ) : null}
      <div class="header-end">
        {inApp ? (
          <Link href="/search" class="icon-button search-link" aria-label="Search">
            <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
              <circle cx="10.5" cy="10.5" r="6.5" stroke="currentColor" stroke-width="2.2" fill="none" />
              <path d="M15.5 15.5 21 21" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" />
            </svg>
          </Link>
        ) : null}
        {who && profile ? (
          <div class="profile-menu">
            <button
              type="button"
              class="profile-button"
              aria-haspopup="menu"
              aria-expanded={open}
              aria-label={`Profile menu (${profile.name})`}
              onClick={() => setOpen(!open)}
            >
              <Avatar avatar={profile.avatar} kids={profile.kids} />
              <span class="caret" aria-hidden="true" />
            </button>
            {open ? (
              <div class="menu" role="menu">
                <div class="menu-title">{profile.name}</div>
                <Link href="/profiles" role="menuitem">
                  Switch profile
                </Link>
                <Link href="/account" role="menuitem">
                  Account
                </Link>
                <button type="button" role="menuitem" onClick={() => void signOut()}>
                  Sign out of matinee
                </button>
              </div>
            ) : null}
          </div>
        ) : who === null && location.path !== "/signin" ? (
          <Link href="/signin" class="button button-red small">
            Sign in
          </Link>
        ) : null}
      </div>
    </header>
  );
}

export function Page(props: { children: ComponentChildren; class?: string; testid?: string }): JSX.Element {
  return (
    <main id="main" class={`page ${props.class ?? ""}`} data-testid={props.testid}>
      {props.children}
    </main>
  );
}
