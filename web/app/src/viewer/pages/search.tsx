// Search: as the person types (debounced), the catalog's typo-tolerant results.

import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { errorText, get } from "../../common/api";
import { navigate, useLocation } from "../../common/router";
import { report } from "../session";
import type { SearchPage, TitleSummary } from "../types";
import { Page, Spinner, TitleCard } from "../components/ui";

const DEBOUNCE_MS = 250;

/** "mandlebrot" searched as "mandelbrot": the corrected words, when any differ. */
function corrected(query: string, matched: string[][]): string | null {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (matched.length !== words.length) return null;
  const fixed = matched.map((options, i) => (options.includes(words[i]!) ? words[i]! : options[0] ?? words[i]!));
  const text = fixed.join(" ");
  return text !== words.join(" ") ? text : null;
}

export function Search(): JSX.Element {
  const location = useLocation();
  const [text, setText] = useState(location.query.get("q") ?? "");
  const [results, setResults] = useState<{ q: string; items: TitleSummary[]; fixed: string | null } | null>(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    input.current?.focus();
  }, []);

  useEffect(() => {
    const q = text.trim();
    const href = q ? `/search?q=${encodeURIComponent(q)}` : "/search";
    if (href !== location.href) navigate(href, { replace: true });
    if (!q) {
      setResults(null);
      setBusy(false);
      return;
    }
    const ctl = new AbortController();
    setBusy(true);
    const timer = window.setTimeout(() => {
      get<SearchPage>(`/api/catalog/search?q=${encodeURIComponent(q)}&limit=48`, ctl.signal)
        .then((page) => {
          setResults({ q, items: page.items, fixed: corrected(q, page.matched) });
          setProblem(null);
          setBusy(false);
        })
        .catch((err: unknown) => {
          if (err instanceof DOMException) return;
          setProblem(errorText(err));
          report(err);
          setBusy(false);
        });
    }, DEBOUNCE_MS);
    return () => {
      window.clearTimeout(timer);
      ctl.abort();
    };
  }, [text]);

  return (
    <Page class="search-page">
      <form class="search-box" role="search" onSubmit={(e) => e.preventDefault()}>
        <label for="search-input" class="sr-only">
          Search titles, genres, people
        </label>
        <input
          id="search-input"
          ref={input}
          type="search"
          data-testid="search-input"
          name="q"
          placeholder="Titles, genres, people"
          autoComplete="off"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        {busy ? <span class="spinner small" aria-hidden="true" /> : null}
      </form>
      <section data-testid="search-results" class="search-results" aria-live="polite" aria-busy={busy}>
        {problem ? <p class="form-error">{problem}</p> : null}
        {results === null ? (
          text.trim() ? (
            <Spinner label="Searching" />
          ) : (
            <p class="muted">Find films and series by title, genre or cast.</p>
          )
        ) : results.items.length === 0 ? (
          <p class="empty">Nothing matches “{results.q}”. Try other words.</p>
        ) : (
          <>
            <p class="muted">
              {results.fixed ? (
                <>
                  Showing results for <strong>{results.fixed}</strong>
                </>
              ) : (
                <>
                  {results.items.length} {results.items.length === 1 ? "title" : "titles"} for “{results.q}”
                </>
              )}
            </p>
            <div class="grid">
              {results.items.map((t) => (
                <TitleCard card={t} key={t.id} />
              ))}
            </div>
          </>
        )}
      </section>
    </Page>
  );
}
