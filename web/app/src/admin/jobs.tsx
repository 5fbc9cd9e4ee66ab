// Jobs: the recent ingest jobs with live progress, and one job's tasks.
import { Fragment } from "preact";
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { usePoll } from "../common/poll";
import { ago, dateTime } from "../common/units";
import { get, post, qs } from "./http";
import { Link, navigate, usePlace } from "./router";
import type { AdminTitle, Job, JobList } from "./types";
import { Bar, Empty, ErrorBanner, Fresh, Loading, Page, StateBadge } from "./ui";

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

export function isFinished(job: Job): boolean {
  return FINISHED.has(job.state);
}

export function jobTitleId(job: Job): string | null {
  const v = job.metadata?.title_id;
  return typeof v === "string" && v ? v : null;
}

export function JobsPage(): JSX.Element {
  const place = usePlace();
  const cursor = place.query.get("cursor") ?? "";
  const [state, setState] = useState("");
  const jobs = usePoll((signal) => get<JobList>(`/api/media/jobs${qs({ limit: 100, cursor })}`, signal), cursor ? 5000 : 1000, [cursor]);
  const items = (jobs.data?.items ?? []).filter((j) => !state || j.state === state);
  const counts = new Map<string, number>();
  for (const j of jobs.data?.items ?? []) counts.set(j.state, (counts.get(j.state) ?? 0) + 1);
  return (
    <Page
      title="Jobs"
      testid="jobs-view"
      actions={
        <>
          <label>
            Show{" "}
            <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
              <option value="">every state</option>
              {["queued", "running", "succeeded", "failed"].map((s) => (
                <option key={s} value={s}>
                  {s} ({counts.get(s) ?? 0})
                </option>
              ))}
            </select>
          </label>
          <Link href="/admin/upload" class="button">
            Upload a master
          </Link>
          <Fresh at={jobs.updatedAt} error={jobs.error} />
        </>
      }
    >
      <ErrorBanner error={jobs.error} prefix="Could not load the jobs" />
      {jobs.loading ? <Loading what="jobs" /> : null}
      {jobs.data && items.length === 0 ? <Empty>No jobs{state ? ` in state ${state}` : ""} yet. Upload a master to start one.</Empty> : null}
      {items.length > 0 ? (
        <table class="grid jobs">
          <thead>
            <tr>
              <th>Title</th>
              <th>State</th>
              <th>Stage</th>
              <th class="wide">Progress</th>
              <th>Started</th>
              <th>Updated</th>
              <th>Asset</th>
            </tr>
          </thead>
          <tbody>
            {items.map((job) => (
              <tr key={job.id} data-testid="job-row" data-job-id={job.id} data-state={job.state}>
                <td>
                  <Link href={`/admin/jobs/${encodeURIComponent(job.id)}`}>{job.title || job.id}</Link>
                  {job.error ? (
                    <div class="error-text" title={job.error}>
                      {job.error}
                    </div>
                  ) : null}
                </td>
                <td>
                  <StateBadge state={job.state} />
                </td>
                <td>{job.stage || "—"}</td>
                <td>
                  <Bar value={job.progress} state={job.state} />
                </td>
                <td title={dateTime(job.created_at)}>{ago(job.created_at)}</td>
                <td title={dateTime(job.updated_at)}>{ago(job.updated_at)}</td>
                <td>{job.asset_id ? <Link href={`/admin/assets/${encodeURIComponent(job.asset_id)}`}>asset</Link> : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="pager">
        {cursor ? (
          <button type="button" onClick={() => navigate("/admin/jobs")}>
            Newest jobs
          </button>
        ) : null}
        {jobs.data?.next_cursor ? (
          <button type="button" onClick={() => navigate(`/admin/jobs${qs({ cursor: jobs.data?.next_cursor ?? "" })}`)}>
            Older jobs
          </button>
        ) : null}
      </div>
    </Page>
  );
}

function LinkToTitle({ job }: { job: Job }): JSX.Element | null {
  const titleId = jobTitleId(job);
  const title = usePoll(
    (signal) => (titleId ? get<AdminTitle>(`/api/catalog/admin/titles/${encodeURIComponent(titleId)}`, signal) : Promise.resolve(null)),
    0,
    [titleId],
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (!titleId) return null;
  const t = title.data;
  const link = async (): Promise<void> => {
    if (!job.asset_id) return;
    setBusy(true);
    setError(null);
    try {
      await post(`/api/catalog/titles/${encodeURIComponent(titleId)}/asset`, { asset_id: job.asset_id });
      title.refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const linked = t !== null && job.asset_id !== null && t.asset_id === job.asset_id;
  return (
    <div class="card">
      <h2>Catalog title</h2>
      <ErrorBanner error={title.error} prefix="Could not load the title" />
      {t ? (
        <p>
          <Link href={`/admin/titles/${encodeURIComponent(t.id)}`}>{t.name}</Link> ({t.kind}, {t.published ? "published" : "not published"}
          {t.asset_id ? (linked ? ", plays this job's asset" : ", plays another asset") : ", no asset linked yet"})
        </p>
      ) : null}
      {job.asset_id && t && !linked ? (
        <button type="button" data-testid="link-asset" disabled={busy} onClick={() => void link()}>
          {busy ? "Linking…" : "Play this asset for the title"}
        </button>
      ) : null}
      {!job.asset_id ? <p class="muted">Once the job has published its asset, the asset can be linked to this title.</p> : null}
      <ErrorBanner error={error} prefix="Could not link the asset" />
    </div>
  );
}

export function JobDetail({ id }: { id: string }): JSX.Element {
  const [done, setDone] = useState(false);
  const job = usePoll(
    async (signal) => {
      const j = await get<Job>(`/api/media/jobs/${encodeURIComponent(id)}`, signal);
      setDone(isFinished(j));
      return j;
    },
    done ? 5000 : 1000,
    [id],
  );
  const j = job.data;
  const meta = Object.entries(j?.metadata ?? {}).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return (
    <Page
      title={j ? `Job: ${j.title || j.id}` : "Job"}
      testid="job-detail"
      actions={
        <>
          <Link href="/admin/jobs">All jobs</Link>
          <Fresh at={job.updatedAt} error={job.error} />
        </>
      }
    >
      <ErrorBanner error={job.error} prefix="Could not load the job" />
      {job.loading ? <Loading what="the job" /> : null}
      {j ? (
        <>
          <div class="job-summary" data-state={j.state}>
            <dl class="facts">
              <dt>State</dt>
              <dd>
                <StateBadge state={j.state} />
              </dd>
              <dt>Stage</dt>
              <dd>{j.stage || "—"}</dd>
              <dt>Progress</dt>
              <dd>
                <Bar value={j.progress} state={j.state} testid="job-progress" />
              </dd>
              <dt>Job id</dt>
              <dd>
                <code>{j.id}</code>
              </dd>
              <dt>Started</dt>
              <dd>{dateTime(j.created_at)}</dd>
              <dt>Updated</dt>
              <dd>
                {dateTime(j.updated_at)} ({ago(j.updated_at)})
              </dd>
              {j.asset_id ? (
                <>
                  <dt>Asset</dt>
                  <dd>
                    <Link href={`/admin/assets/${encodeURIComponent(j.asset_id)}`} data-testid="job-asset">
                      {j.asset_id}
                    </Link>
                  </dd>
                </>
              ) : null}
              {meta.map(([k, v]) => (
                <Fragment key={k}>
                  <dt>{k.replace(/_/g, " ")}</dt>
                  <dd>{String(v)}</dd>
                </Fragment>
              ))}
            </dl>
            {j.error ? (
              <p class="job-error" data-testid="job-error" role="alert">
                This job failed: {j.error}
              </p>
            ) : null}
          </div>
          <LinkToTitle job={j} />
          <h2>Tasks</h2>
          {(j.tasks ?? []).length === 0 ? <Empty>No tasks yet: the job is waiting for a worker.</Empty> : null}
          {(j.tasks ?? []).length > 0 ? (
            <table class="grid tasks">
              <thead>
                <tr>
                  <th>Task</th>
                  <th>Kind</th>
                  <th>State</th>
                  <th class="wide">Progress</th>
                  <th>Attempts</th>
                </tr>
              </thead>
              <tbody>
                {(j.tasks ?? []).map((t) => (
                  <tr key={t.name} data-testid="task-row" data-state={t.state} data-task={t.name}>
                    <td>
                      {t.name}
                      {t.error ? <div class="error-text">{t.error}</div> : null}
                    </td>
                    <td>{t.kind ?? t.stage ?? "—"}</td>
                    <td>
                      <StateBadge state={t.state} />
                    </td>
                    <td>
                      <Bar value={t.state === "done" ? 1 : t.progress} state={t.state} />
                    </td>
                    <td>{t.attempts}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </>
      ) : null}
    </Page>
  );
}
