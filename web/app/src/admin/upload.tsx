// Upload a master: a form that creates the catalog title (and its availability), then a
// resumable tus upload of the file with the title's id in its metadata.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { PreviousUpload } from "tus-js-client";
import { usePoll } from "../common/poll";
import { ago, bitrate, bytes, clock } from "../common/units";
import { errorText, get, post, put, qs } from "./http";
import { Link } from "./router";
import { me } from "./session";
import type { AdminTitle, Genre, Job, Page as ListPage } from "./types";
import { Bar, ErrorBanner, Page, StateBadge } from "./ui";
import * as up from "./uploads";

type Kind = "movie" | "series" | "episode";

interface Fields {
  title: string;
  kind: Kind;
  series: string;
  season: string;
  episode: string;
  synopsis: string;
  genres: string;
  maturity: string;
  release_year: string;
  countries: string;
}

const MATURITY: [string, string][] = [
  ["0", "All ages"],
  ["7", "7+"],
  ["13", "13+"],
  ["16", "16+"],
  ["18", "18+"],
];

function initial(): Fields {
  const q = new URLSearchParams(location.search);
  const asked = q.get("kind");
  const kind: Kind = asked === "series" || asked === "episode" ? asked : "movie";
  return {
    title: "",
    kind,
    series: q.get("series") ?? "",
    season: "1",
    episode: "1",
    synopsis: "",
    genres: "",
    maturity: "0",
    release_year: String(new Date().getFullYear()),
    countries: kind === "episode" ? "" : (me()?.country ?? "US"),
  };
}

export function splitList(text: string): string[] {
  return [...new Set(text.split(/[,;\n]/).map((s) => s.trim()).filter(Boolean))];
}

/** Country codes from "us, GB de" (ISO 3166 alpha-2); throws on anything else. */
export function countryCodes(text: string): string[] {
  const codes = [...new Set(text.split(/[\s,;]+/).map((s) => s.trim().toUpperCase()).filter(Boolean))];
  const bad = codes.filter((c) => !/^[A-Z]{2}$/.test(c));
  if (bad.length) throw new Error(`Countries are two-letter codes such as US or GB; "${bad.join(", ")}" is not one.`);
  return codes;
}

function eta(s: up.UploadState): string {
  if (!s.rate || s.rate <= 0) return "";
  return ` · ${clock((s.total - s.sent) / s.rate)} left`;
}

function Progress({ s }: { s: up.UploadState }): JSX.Element {
  const fraction = s.total > 0 ? s.sent / s.total : 0;
  const active = s.phase === "uploading" || s.phase === "paused";
  return (
    <div class="card upload-status" data-testid="upload-status" data-state={s.phase}>
      <h2>
        {s.fileName} <span class="muted">for “{s.title}”</span>
      </h2>
      <div data-testid="upload-progress" data-state={s.phase} data-progress={fraction.toFixed(4)} data-sent={s.sent} data-total={s.total}>
        <Bar value={fraction} state={s.phase} label={`${bytes(s.sent)} of ${bytes(s.total)} (${(fraction * 100).toFixed(1)}%)`} />
      </div>
      <p class="muted">
        {s.phase === "uploading" ? `Uploading${s.rate ? ` at ${bitrate(s.rate * 8)}` : "…"}${eta(s)}` : null}
        {s.phase === "paused" ? "Paused. Resume carries on from the last byte the server holds." : null}
        {s.phase === "finishing" ? (s.jobNote ?? "Upload complete; starting the ingest job…") : null}
        {s.phase === "done" ? "Upload complete." : null}
        {s.resumedFrom ? ` Resumed from ${bytes(s.resumedFrom)}.` : ""}
      </p>
      <ErrorBanner error={s.error} prefix="The upload stopped" />
      <div class="actions">
        {s.phase === "uploading" ? (
          <button type="button" data-testid="upload-pause" onClick={() => up.pause()}>
            Pause
          </button>
        ) : null}
        {s.phase === "paused" || s.phase === "failed" ? (
          <button type="button" data-testid="upload-resume" onClick={() => up.resume()}>
            Resume
          </button>
        ) : null}
        {active || s.phase === "failed" ? (
          <button type="button" class="danger" onClick={() => void up.discard()}>
            Discard
          </button>
        ) : null}
        {s.phase === "done" ? (
          <button type="button" onClick={() => up.dismiss()}>
            Upload another
          </button>
        ) : null}
      </div>
      {s.jobId ? <JobProgress id={s.jobId} titleId={s.titleId} /> : s.phase === "done" && s.jobNote ? <p>{s.jobNote}</p> : null}
    </div>
  );
}

function JobProgress({ id, titleId }: { id: string; titleId: string | null }): JSX.Element {
  const job = usePoll((signal) => get<Job>(`/api/media/jobs/${encodeURIComponent(id)}`, signal), 1000, [id]);
  const j = job.data;
  return (
    <div class="upload-job" data-testid="upload-job" data-job-id={id} data-state={j?.state ?? ""}>
      <p>
        Ingest job <Link href={`/admin/jobs/${encodeURIComponent(id)}`}>{id}</Link> {j ? <StateBadge state={j.state} /> : null} {j?.stage ? `· ${j.stage}` : ""}
      </p>
      {j ? <Bar value={j.progress} state={j.state} /> : null}
      {j?.error ? <p class="job-error">{j.state === "failed" ? `The job failed: ${j.error}` : j.error}</p> : null}
      {j?.asset_id && titleId ? (
        <p>
          {j.state === "succeeded" ? "Done." : "Published (its quality is still being scored)."} Link its asset and publish from the{" "}
          <Link href={`/admin/titles/${encodeURIComponent(titleId)}`}>title's page</Link>.
        </p>
      ) : null}
      <ErrorBanner error={job.error} prefix="Could not follow the job" />
    </div>
  );
}

function Unfinished({ tick }: { tick: number }): JSX.Element | null {
  const list = usePoll(
    async () => {
      const found = await up.unfinished();
      return Promise.all(
        found.map(async (p) => {
          let offset: number | null = null;
          try {
            offset = p.uploadUrl ? await up.offsetOf(p.uploadUrl) : null;
          } catch {
            offset = null;
          }
          return { p, offset };
        }),
      );
    },
    0,
    [tick],
  );
  const [error, setError] = useState<unknown>(null);
  const active = up.current()?.uploadUrl;
  const items = (list.data ?? []).filter(({ p }) => p.uploadUrl !== active);
  if (items.length === 0) return null;
  return (
    <div class="card" data-testid="unfinished-uploads">
      <h2>Unfinished uploads</h2>
      <p class="muted">Choose the same file again in the form to carry on where it stopped (the title is not created twice).</p>
      <ErrorBanner error={error} />
      <ul class="plain">
        {items.map(({ p, offset }) => (
          <li key={p.urlStorageKey} data-testid="unfinished-upload">
            <strong>{p.metadata.filename ?? "a file"}</strong> for “{p.metadata.title ?? "?"}” · {bytes(p.size)} ·{" "}
            {offset === -1 ? "the server no longer has it" : offset !== null && p.size ? `${((offset / p.size) * 100).toFixed(0)}% on the server` : "progress unknown"} · started{" "}
            {ago(p.creationTime)}{" "}
            <button
              type="button"
              class="link"
              onClick={() => {
                up.forget(p)
                  .then(() => list.refresh())
                  .catch(setError);
              }}
            >
              Forget
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function UploadPage(): JSX.Element {
  const active = up.useUpload();
  const [f, setF] = useState<Fields>(initial);
  const [file, setFile] = useState<File | null>(null);
  const [previous, setPrevious] = useState<PreviousUpload | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<AdminTitle | null>(null);
  const [tick, setTick] = useState(0);
  const [formKey, setFormKey] = useState(0);
  const [made, setMade] = useState<AdminTitle | null>(null);
  const genres = usePoll((signal) => get<ListPage<Genre>>(`/api/catalog/genres${qs({ limit: 100 })}`, signal), 0);
  const series = usePoll((signal) => get<ListPage<AdminTitle>>(`/api/catalog/admin/titles${qs({ kind: "series", limit: 100 })}`, signal), 0);

  useEffect(() => {
    if (active?.phase === "done") setTick((n) => n + 1);
  }, [active?.phase]);

  const field =
    (name: keyof Fields) =>
    (e: JSX.TargetedEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>): void => {
      const value = e.currentTarget.value;
      setF((old) => ({ ...old, [name]: value }));
    };

  const chooseFile = async (e: JSX.TargetedEvent<HTMLInputElement>): Promise<void> => {
    const chosen = e.currentTarget.files?.[0] ?? null;
    setFile(chosen);
    setPrevious(null);
    setError(null);
    if (!chosen) return;
    try {
      const p = await up.previousOf(chosen);
      setPrevious(p);
      if (p) setF((old) => ({ ...old, title: p.metadata.title ?? old.title }));
    } catch {
      setPrevious(null);
    }
  };

  const createTitle = async (): Promise<AdminTitle> => {
    const name = f.title.trim();
    const countries = countryCodes(f.countries);
    let title: AdminTitle;
    if (f.kind === "episode") {
      if (!f.series) throw new Error("Choose the series this episode belongs to.");
      setBusy("Creating the episode…");
      title = await post<AdminTitle>(`/api/catalog/titles/${encodeURIComponent(f.series)}/episodes`, {
        season: Number(f.season),
        episode: Number(f.episode),
        name,
        synopsis: f.synopsis,
      });
    } else {
      setBusy(`Creating the ${f.kind}…`);
      title = await post<AdminTitle>("/api/catalog/titles", {
        kind: f.kind,
        name,
        synopsis: f.synopsis,
        genres: splitList(f.genres),
        maturity: Number(f.maturity),
        release_year: Number(f.release_year),
      });
    }
    setCreated(title);
    if (countries.length) {
      setBusy("Setting where it is available…");
      const starts = new Date().toISOString();
      title = await put<AdminTitle>(`/api/catalog/titles/${encodeURIComponent(title.id)}/availability`, {
        windows: countries.map((country) => ({ country, starts_at: starts, ends_at: null })),
      });
      setCreated(title);
    }
    return title;
  };

  /** A fresh form (and file input) once an upload has started or a series was created. */
  const reset = (): void => {
    setF(initial());
    setFile(null);
    setPrevious(null);
    setCreated(null);
    setError(null);
    setFormKey((k) => k + 1);
    setTick((n) => n + 1);
  };

  const submit = async (e: JSX.TargetedEvent<HTMLFormElement>): Promise<void> => {
    e.preventDefault();
    setError(null);
    setMade(null);
    const name = f.title.trim();
    try {
      if (!name && !previous) throw new Error("Give the title a name.");
      if (!file && f.kind !== "series") throw new Error("Choose the master file to upload.");
      if (active && (active.phase === "uploading" || active.phase === "paused" || active.phase === "finishing")) {
        throw new Error("Another upload is under way: finish or discard it first.");
      }
      if (previous && file) {
        // The same file as an upload this browser started before: carry on with its title.
        up.startUpload({
          file,
          title: previous.metadata.title ?? name,
          titleId: previous.metadata.title_id ?? null,
          previous,
        });
        reset();
        return;
      }
      const title = created && created.name === name ? created : await createTitle();
      if (!file) {
        reset();
        setMade(title);
        return;
      }
      const series = f.kind === "episode" ? (seriesItems.find((s) => s.id === f.series)?.name ?? "") : "";
      const jobTitle = f.kind === "episode" ? `${series} S${f.season}E${f.episode} ${name}`.trim() : name;
      up.startUpload({ file, title: jobTitle, titleId: title.id, previous: null, extra: { kind: f.kind } });
      reset();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const seriesItems = series.data?.items ?? [];
  const uploading = active !== null && (active.phase === "uploading" || active.phase === "paused" || active.phase === "finishing");
  const episode = f.kind === "episode";
  return (
    <Page title="Upload a master" testid="upload-view">
      {active ? <Progress s={active} /> : null}
      {made ? (
        <p class="notice" data-testid="title-created">
          Created the {made.kind} <Link href={`/admin/titles/${encodeURIComponent(made.id)}`}>{made.name}</Link>.{" "}
          {made.kind === "series" ? <Link href={`/admin/upload?kind=episode&series=${encodeURIComponent(made.id)}`}>Upload its first episode</Link> : null}
        </p>
      ) : null}
      <Unfinished tick={tick} />
      <form key={formKey} class="card form upload-form" data-testid="upload-form" onSubmit={(e) => void submit(e)}>
        <p class="muted">
          The form creates the catalog title (unpublished), then uploads the master in 8 MiB chunks; an ingest job starts when the last byte arrives. An interrupted upload
          carries on where it stopped, even after a reload: choose the same file again.
        </p>
        <label class="wide">
          File
          <input type="file" name="file" accept="video/*,.mp4,.mov,.mkv,.mxf,.webm,.y4m" onChange={(e) => void chooseFile(e)} disabled={uploading} />
        </label>
        {file ? (
          <p class="muted wide">
            {file.name} · {bytes(file.size)}
          </p>
        ) : null}
        {previous ? (
          <p class="notice wide" data-testid="upload-resumable">
            This browser already sent part of this file for “{previous.metadata.title ?? "a title"}” ({ago(previous.creationTime)}). Upload carries on where it stopped, for the same
            title; the fields below are not used.
          </p>
        ) : null}
        <label>
          Kind
          <select name="kind" value={f.kind} onChange={field("kind")} disabled={!!previous}>
            <option value="movie">Movie</option>
            <option value="series">Series</option>
            <option value="episode">Episode of a series</option>
          </select>
        </label>
        <label>
          {episode ? "Episode name" : "Title"}
          <input name="title" value={f.title} onInput={field("title")} maxLength={300} required={!previous} disabled={!!previous} />
        </label>
        {episode ? (
          <>
            <label>
              Series
              <select name="series" value={f.series} onChange={field("series")} required>
                <option value="">Choose a series…</option>
                {seriesItems.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                  </option>
                ))}
              </select>
            </label>
            <label class="narrow">
              Season
              <input name="season" type="number" min={0} max={1000} value={f.season} onInput={field("season")} required />
            </label>
            <label class="narrow">
              Episode
              <input name="episode" type="number" min={0} max={10000} value={f.episode} onInput={field("episode")} required />
            </label>
          </>
        ) : null}
        <label class="wide">
          Synopsis
          <textarea name="synopsis" rows={3} maxLength={5000} value={f.synopsis} onInput={field("synopsis")} disabled={!!previous} />
        </label>
        {!episode ? (
          <>
            <label>
              <span>
            Genres <span class="hint">comma-separated</span>
          </span>
              <input name="genres" list="genre-names" value={f.genres} onInput={field("genres")} placeholder="Drama, Science" disabled={!!previous} />
              <datalist id="genre-names">
                {(genres.data?.items ?? []).map((g) => (
                  <option key={g.slug} value={g.name} />
                ))}
              </datalist>
            </label>
            <label class="narrow">
              Maturity
              <select name="maturity" value={f.maturity} onChange={field("maturity")} disabled={!!previous}>
                {MATURITY.map(([v, label]) => (
                  <option key={v} value={v}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
            <label class="narrow">
              Release year
              <input name="release_year" type="number" min={1870} max={2100} value={f.release_year} onInput={field("release_year")} required disabled={!!previous} />
            </label>
          </>
        ) : null}
        <label>
          <span>
            Available in <span class="hint">country codes, from now{episode ? "; empty: as the series" : ""}</span>
          </span>
          <input name="countries" value={f.countries} onInput={field("countries")} placeholder="US, GB, DE" disabled={!!previous} />
        </label>
        <ErrorBanner error={error ? errorText(error) : null} />
        {created ? (
          <p class="notice wide">
            The title <Link href={`/admin/titles/${encodeURIComponent(created.id)}`}>{created.name}</Link> exists; submitting again uploads for it.
          </p>
        ) : null}
        <div class="actions wide">
          <button type="submit" data-testid="upload-submit" disabled={busy !== null || uploading}>
            {busy ?? (previous ? "Resume the upload" : file ? "Create the title and upload" : f.kind === "series" ? "Create the series" : "Upload")}
          </button>
        </div>
      </form>
    </Page>
  );
}
