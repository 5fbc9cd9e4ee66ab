// Titles: every title, published or not; one title's publishing, availability windows, asset
// and details.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { usePoll } from "../common/poll";
import { ago, clock, dateTime } from "../common/units";
import { errorText, get, patch, post, put, qs } from "./http";
import { jobTitleId } from "./jobs";
import { Link, navigate, usePlace } from "./router";
import type { AdminTitle, Job, JobList, Page as ListPage, Window } from "./types";
import { countryCodes, splitList } from "./upload";
import { Empty, ErrorBanner, Fresh, Loading, Page, StateBadge } from "./ui";

function countries(t: AdminTitle): string {
  const codes = [...new Set(t.availability.map((w) => w.country))];
  return codes.length ? codes.join(", ") : t.kind === "episode" ? "as its series" : "nowhere";
}

export function TitlesPage(): JSX.Element {
  const place = usePlace();
  const kind = place.query.get("kind") ?? "";
  const sort = place.query.get("sort") ?? "name";
  const cursor = place.query.get("cursor") ?? "";
  const list = usePoll(
    (signal) => get<ListPage<AdminTitle>>(`/api/catalog/admin/titles${qs({ kind, sort, cursor, limit: 50 })}`, signal),
    5000,
    [kind, sort, cursor],
  );
  const go = (changes: Record<string, string>): void => {
    const q = new URLSearchParams(place.query);
    for (const [k, v] of Object.entries(changes)) {
      if (v) q.set(k, v);
      else q.delete(k);
    }
    const s = q.toString();
    navigate(`/admin/titles${s ? `?${s}` : ""}`);
  };
  const items = list.data?.items ?? [];
  return (
    <Page
      title="Titles"
      testid="titles-view"
      actions={
        <>
          <label>
            Kind{" "}
            <select value={kind} onChange={(e) => go({ kind: e.currentTarget.value, cursor: "" })}>
              <option value="">movies and series</option>
              <option value="movie">movies</option>
              <option value="series">series</option>
              <option value="episode">episodes</option>
            </select>
          </label>
          <label>
            Order{" "}
            <select value={sort} onChange={(e) => go({ sort: e.currentTarget.value, cursor: "" })}>
              <option value="name">by name</option>
              <option value="newest">newest first</option>
            </select>
          </label>
          <Link href="/admin/upload" class="button">
            New title
          </Link>
          <Fresh at={list.updatedAt} error={list.error} />
        </>
      }
    >
      <ErrorBanner error={list.error} prefix="Could not load the titles" />
      {list.loading ? <Loading what="titles" /> : null}
      {list.data && items.length === 0 ? <Empty>No titles{kind ? ` of kind ${kind}` : ""} yet.</Empty> : null}
      {items.length > 0 ? (
        <table class="grid titles">
          <thead>
            <tr>
              <th>Name</th>
              <th>Kind</th>
              <th>Year</th>
              <th>State</th>
              <th>Video</th>
              <th>Available in</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {items.map((t) => (
              <tr key={t.id} data-testid="title-row" data-title-id={t.id} data-published={String(t.published)}>
                <td>
                  <Link href={`/admin/titles/${encodeURIComponent(t.id)}`}>{t.name}</Link>
                  {t.kind === "episode" && t.season !== null && t.season !== undefined ? (
                    <span class="muted">
                      {" "}
                      S{t.season}E{t.episode}
                    </span>
                  ) : null}
                </td>
                <td>{t.kind}</td>
                <td>{t.release_year}</td>
                <td>
                  <StateBadge state={t.published ? "published" : "unpublished"} />
                </td>
                <td>{t.asset_id ? (t.max_height ? `${t.max_height}p` : "linked") : t.kind === "series" ? "—" : <span class="warn">no asset</span>}</td>
                <td>{countries(t)}</td>
                <td title={dateTime(t.updated_at)}>{ago(t.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="pager">
        {cursor ? (
          <button type="button" onClick={() => go({ cursor: "" })}>
            First page
          </button>
        ) : null}
        {list.data?.next_cursor ? (
          <button type="button" onClick={() => go({ cursor: list.data?.next_cursor ?? "" })}>
            Next page
          </button>
        ) : null}
      </div>
    </Page>
  );
}

// --- one title ------------------------------------------------------------------------------

interface WindowRow {
  key: number;
  country: string;
  starts: string; // datetime-local value
  ends: string;
}

let rowKeys = 0;

function localInput(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function rowsOf(windows: Window[]): WindowRow[] {
  return windows.map((w) => ({ key: (rowKeys += 1), country: w.country, starts: localInput(w.starts_at), ends: localInput(w.ends_at) }));
}

function windowState(w: Window, now = Date.now()): string {
  const s = new Date(w.starts_at).getTime();
  const e = w.ends_at ? new Date(w.ends_at).getTime() : Infinity;
  return now < s ? "upcoming" : now >= e ? "ended" : "open";
}

function Availability({ title, onSaved }: { title: AdminTitle; onSaved: (t: AdminTitle) => void }): JSX.Element {
  const [rows, setRows] = useState<WindowRow[]>(() => rowsOf(title.availability));
  const [dirty, setDirty] = useState(false);
  const [bulk, setBulk] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const serverKey = JSON.stringify(title.availability);
  useEffect(() => {
    if (!dirty) setRows(rowsOf(title.availability));
  }, [serverKey]);

  const change = (key: number, patchRow: Partial<WindowRow>): void => {
    setRows((rs) => rs.map((r) => (r.key === key ? { ...r, ...patchRow } : r)));
    setDirty(true);
    setSaved(false);
  };
  const remove = (key: number): void => {
    setRows((rs) => rs.filter((r) => r.key !== key));
    setDirty(true);
    setSaved(false);
  };
  const add = (): void => {
    try {
      const codes = bulk.trim() ? countryCodes(bulk) : [""];
      const now = localInput(new Date().toISOString());
      setRows((rs) => [...rs, ...codes.map((country) => ({ key: (rowKeys += 1), country, starts: now, ends: "" }))]);
      setBulk("");
      setDirty(true);
      setSaved(false);
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  const save = async (e: JSX.TargetedEvent<HTMLFormElement>): Promise<void> => {
    e.preventDefault();
    setError(null);
    try {
      const windows = rows.map((r) => {
        const country = r.country.trim().toUpperCase();
        if (!/^[A-Z]{2}$/.test(country)) throw new Error(`"${r.country}" is not a two-letter country code.`);
        if (!r.starts) throw new Error(`The window for ${country} needs a start.`);
        const starts = new Date(r.starts);
        const ends = r.ends ? new Date(r.ends) : null;
        if (ends && ends <= starts) throw new Error(`The window for ${country} must end after it starts.`);
        return { country, starts_at: starts.toISOString(), ends_at: ends ? ends.toISOString() : null };
      });
      setBusy(true);
      const t = await put<AdminTitle>(`/api/catalog/titles/${encodeURIComponent(title.id)}/availability`, { windows });
      setDirty(false);
      setSaved(true);
      onSaved(t);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" data-testid="availability-form" onSubmit={(e) => void save(e)}>
      <h2>Availability</h2>
      <p class="muted">
        Where and when the title may be watched. {title.kind === "episode" ? "An episode without windows of its own follows its series'. " : ""}Times are in your time zone.
      </p>
      {rows.length === 0 ? <Empty>{title.kind === "episode" ? "No windows of its own: the episode follows its series'." : "No windows: the title is available nowhere."}</Empty> : null}
      {rows.length > 0 ? (
        <table class="grid windows">
          <thead>
            <tr>
              <th>Country</th>
              <th>From</th>
              <th>Until</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key} data-testid="window-row">
                <td>
                  <input name="country" class="code" value={r.country} maxLength={2} placeholder="US" onInput={(e) => change(r.key, { country: e.currentTarget.value.toUpperCase() })} />
                </td>
                <td>
                  <input name="starts_at" type="datetime-local" value={r.starts} onInput={(e) => change(r.key, { starts: e.currentTarget.value })} />
                </td>
                <td>
                  <input name="ends_at" type="datetime-local" value={r.ends} onInput={(e) => change(r.key, { ends: e.currentTarget.value })} />
                  {!r.ends ? <span class="hint"> open-ended</span> : null}
                </td>
                <td>
                  <button type="button" class="link" onClick={() => remove(r.key)} aria-label={`Remove ${r.country}`}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="actions">
        <input name="add_countries" value={bulk} placeholder="GB, DE" onInput={(e) => setBulk(e.currentTarget.value)} aria-label="Countries to add" />
        <button type="button" onClick={add}>
          Add {bulk.trim() ? "countries" : "a window"}
        </button>
        <button type="submit" data-testid="availability-save" disabled={busy || !dirty}>
          {busy ? "Saving…" : "Save availability"}
        </button>
        {saved && !dirty ? <span class="ok">Saved.</span> : null}
      </div>
      <ErrorBanner error={error} prefix="Could not save the availability" />
    </form>
  );
}

function LinkAsset({ title, onLinked }: { title: AdminTitle; onLinked: (t: AdminTitle) => void }): JSX.Element {
  const jobs = usePoll((signal) => get<JobList>(`/api/media/jobs${qs({ limit: 100 })}`, signal), 3000);
  const done = (jobs.data?.items ?? []).filter((j): j is Job & { asset_id: string } => j.state === "succeeded" && !!j.asset_id);
  const mine = done.filter((j) => jobTitleId(j) === title.id);
  const [choice, setChoice] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const suggested = mine.find((j) => j.asset_id !== title.asset_id)?.asset_id ?? "";
  const assetId = (choice || suggested).trim();
  const link = async (e: JSX.TargetedEvent<HTMLFormElement>): Promise<void> => {
    e.preventDefault();
    setError(null);
    if (!assetId) {
      setError("Choose a finished job's asset, or type an asset id.");
      return;
    }
    setBusy(true);
    try {
      const t = await post<AdminTitle>(`/api/catalog/titles/${encodeURIComponent(title.id)}/asset`, { asset_id: assetId });
      setChoice("");
      onLinked(t);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const labelOf = (j: Job): string => `${j.title || j.id} · ${ago(j.updated_at)}${jobTitleId(j) === title.id ? " · uploaded for this title" : ""}${j.asset_id === title.asset_id ? " (linked now)" : ""}`;
  const inList = done.some((j) => j.asset_id === assetId);
  return (
    <form class="card" data-testid="link-asset-form" onSubmit={(e) => void link(e)}>
      <h2>Video</h2>
      {title.asset_id ? (
        <p>
          Plays asset <Link href={`/admin/assets/${encodeURIComponent(title.asset_id)}`}>{title.asset_id}</Link>
          {title.max_height ? ` (up to ${title.max_height}p)` : ""}.
        </p>
      ) : (
        <p class="warn">No asset is linked: the title cannot be played.</p>
      )}
      <div class="actions">
        <select name="asset" value={inList ? assetId : ""} onChange={(e) => setChoice(e.currentTarget.value)} aria-label="A finished job's asset">
          <option value="">{done.length ? "A finished job's asset…" : "No finished jobs"}</option>
          {done.map((j) => (
            <option key={j.id} value={j.asset_id}>
              {labelOf(j)}
            </option>
          ))}
        </select>
        <input name="asset_id" value={choice || suggested} placeholder="asset id" onInput={(e) => setChoice(e.currentTarget.value)} aria-label="Asset id" />
        <button type="submit" data-testid="link-asset" disabled={busy || !assetId || assetId === title.asset_id}>
          {busy ? "Linking…" : title.asset_id ? "Play this asset instead" : "Link this asset"}
        </button>
      </div>
      {mine.length === 0 && !title.asset_id ? <p class="muted">No finished job was uploaded for this title yet.</p> : null}
      <ErrorBanner error={jobs.error} prefix="Could not list the jobs" />
      <ErrorBanner error={error} prefix="Could not link the asset" />
    </form>
  );
}

function EditDetails({ title, onSaved }: { title: AdminTitle; onSaved: (t: AdminTitle) => void }): JSX.Element {
  const [open, setOpen] = useState(false);
  const [f, setF] = useState({ name: "", synopsis: "", genres: "", maturity: "", release_year: "" });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const start = (): void => {
    setF({
      name: title.name,
      synopsis: title.synopsis,
      genres: title.genres.map((g) => g.name).join(", "),
      maturity: String(title.maturity),
      release_year: String(title.release_year),
    });
    setError(null);
    setOpen(true);
  };
  const save = async (e: JSX.TargetedEvent<HTMLFormElement>): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { name: f.name.trim(), synopsis: f.synopsis, maturity: Number(f.maturity), release_year: Number(f.release_year) };
      if (title.kind !== "episode") body.genres = splitList(f.genres);
      const t = await patch<AdminTitle>(`/api/catalog/titles/${encodeURIComponent(title.id)}`, body);
      setOpen(false);
      onSaved(t);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (!open) {
    return (
      <p>
        <button type="button" onClick={start}>
          Edit details
        </button>
      </p>
    );
  }
  const set =
    (k: keyof typeof f) =>
    (e: JSX.TargetedEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>): void => {
      const v = e.currentTarget.value;
      setF((o) => ({ ...o, [k]: v }));
    };
  return (
    <form class="card form" data-testid="title-edit-form" onSubmit={(e) => void save(e)}>
      <h2>Details</h2>
      <label>
        Name
        <input name="name" value={f.name} onInput={set("name")} required maxLength={300} />
      </label>
      {title.kind !== "episode" ? (
        <label>
          <span>
            Genres <span class="hint">comma-separated</span>
          </span>
          <input name="genres" value={f.genres} onInput={set("genres")} />
        </label>
      ) : null}
      <label class="narrow">
        Maturity
        <select name="maturity" value={f.maturity} onChange={set("maturity")}>
          {["0", "7", "13", "16", "18"].map((m) => (
            <option key={m} value={m}>
              {m === "0" ? "All ages" : `${m}+`}
            </option>
          ))}
        </select>
      </label>
      <label class="narrow">
        Release year
        <input name="release_year" type="number" min={1870} max={2100} value={f.release_year} onInput={set("release_year")} />
      </label>
      <label class="wide">
        Synopsis
        <textarea name="synopsis" rows={3} value={f.synopsis} onInput={set("synopsis")} maxLength={5000} />
      </label>
      <ErrorBanner error={error} prefix="Could not save" />
      <div class="actions wide">
        <button type="submit" disabled={busy}>
          {busy ? "Saving…" : "Save"}
        </button>
        <button type="button" class="link" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function TitleDetail({ id }: { id: string }): JSX.Element {
  const loaded = usePoll((signal) => get<AdminTitle>(`/api/catalog/admin/titles/${encodeURIComponent(id)}`, signal), 5000, [id]);
  const [fresh, setFresh] = useState<AdminTitle | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // The answer of the page's own change wins until the next poll brings a newer title.
  const t = fresh && (!loaded.data || fresh.updated_at >= loaded.data.updated_at) ? fresh : loaded.data;
  const changed = (next: AdminTitle): void => {
    setFresh(next);
    loaded.refresh();
  };
  const publish = async (on: boolean): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      changed(await post<AdminTitle>(`/api/catalog/titles/${encodeURIComponent(id)}/${on ? "publish" : "unpublish"}`));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const open = t ? t.availability.filter((w) => windowState(w) === "open").map((w) => w.country) : [];
  return (
    <Page
      title={t ? t.name : "Title"}
      testid="title-detail"
      actions={
        <>
          {t?.series_id ? <Link href={`/admin/titles/${encodeURIComponent(t.series_id)}`}>The series</Link> : null}
          <Link href="/admin/titles">All titles</Link>
          {t ? (
            <a href={`/title/${encodeURIComponent(t.id)}`} target="_blank" rel="noreferrer">
              Viewer page
            </a>
          ) : null}
          <Fresh at={loaded.updatedAt} error={loaded.error} />
        </>
      }
    >
      <ErrorBanner error={loaded.error} prefix="Could not load the title" />
      {loaded.loading ? <Loading what="the title" /> : null}
      {t ? (
        <>
          <div class="title-head" data-title-id={t.id} data-published={String(t.published)}>
            {t.artwork.poster ? <img class="poster" src={t.artwork.poster} alt={`Poster of ${t.name}`} /> : <div class="poster none">no poster</div>}
            <div>
              <dl class="facts">
                <dt>Kind</dt>
                <dd>
                  {t.kind}
                  {t.kind === "episode" ? ` · season ${t.season ?? "?"}, episode ${t.episode ?? "?"}` : ""}
                </dd>
                <dt>State</dt>
                <dd data-testid="publish-state">
                  <StateBadge state={t.published ? "published" : "unpublished"} />
                  {t.published && !t.playable && t.kind !== "series" ? <span class="warn"> · no video yet</span> : null}
                  {t.published && open.length === 0 && !(t.kind === "episode" && t.availability.length === 0) ? <span class="warn"> · available nowhere now</span> : null}
                </dd>
                <dt>Maturity</dt>
                <dd>{t.maturity === 0 ? "all ages" : `${t.maturity}+`}</dd>
                <dt>Year</dt>
                <dd>{t.release_year}</dd>
                <dt>Runtime</dt>
                <dd>{t.runtime_s ? clock(t.runtime_s) : "—"}</dd>
                <dt>Genres</dt>
                <dd>{t.genres.map((g) => g.name).join(", ") || "—"}</dd>
                <dt>Open now in</dt>
                <dd>{open.join(", ") || (t.kind === "episode" && t.availability.length === 0 ? "as its series" : "nowhere")}</dd>
                <dt>Id</dt>
                <dd>
                  <code>{t.id}</code>
                </dd>
                <dt>Updated</dt>
                <dd>{dateTime(t.updated_at)}</dd>
              </dl>
              <p class="synopsis">{t.synopsis || <span class="muted">No synopsis.</span>}</p>
              <div class="actions">
                {t.published ? (
                  <button type="button" data-testid="unpublish-button" disabled={busy} onClick={() => void publish(false)}>
                    {busy ? "Unpublishing…" : "Unpublish"}
                  </button>
                ) : (
                  <button type="button" class="primary" data-testid="publish-button" disabled={busy} onClick={() => void publish(true)}>
                    {busy ? "Publishing…" : "Publish"}
                  </button>
                )}
              </div>
              <ErrorBanner error={error ? errorText(error) : null} prefix={t.published ? "Could not unpublish" : "Could not publish"} />
            </div>
          </div>
          <EditDetails title={t} onSaved={changed} />
          {t.kind !== "series" ? <LinkAsset title={t} onLinked={changed} /> : null}
          <Availability key={t.id} title={t} onSaved={changed} />
          {t.kind === "series" ? <Episodes title={t} /> : null}
        </>
      ) : null}
    </Page>
  );
}

function Episodes({ title }: { title: AdminTitle }): JSX.Element {
  const seasons = title.seasons ?? [];
  return (
    <div class="card">
      <h2>Episodes</h2>
      <p>
        <Link href={`/admin/upload?kind=episode&series=${encodeURIComponent(title.id)}`} class="button">
          Upload an episode
        </Link>
      </p>
      {seasons.length === 0 ? <Empty>No episodes yet.</Empty> : null}
      {seasons.map((s) => (
        <div key={s.season}>
          <h3>Season {s.season}</h3>
          <table class="grid">
            <tbody>
              {s.episodes.map((e) => (
                <tr key={e.id} data-testid="episode-row" data-title-id={e.id}>
                  <td class="num">{e.episode}</td>
                  <td>
                    <Link href={`/admin/titles/${encodeURIComponent(e.id)}`}>{e.name}</Link>
                  </td>
                  <td>{e.playable ? "video linked" : <span class="warn">no asset</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </div>
  );
}
