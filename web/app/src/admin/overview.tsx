// The console's first page: what is running, what failed, and the state of the fleet and CDN.
import type { JSX } from "preact";
import { usePoll } from "../common/poll";
import { ago } from "../common/units";
import { errorText, get, qs } from "./http";
import { edgeHealth } from "./cdn";
import { Link } from "./router";
import type { CdnView, JobList, ServicesView } from "./types";
import { Bar, Page, StateBadge } from "./ui";

function Problem({ error }: { error: unknown }): JSX.Element | null {
  return error ? (
    <p class="error-text" data-testid="error-banner">
      {errorText(error)}
    </p>
  ) : null;
}

export function Overview(): JSX.Element {
  const jobs = usePoll((signal) => get<JobList>(`/api/media/jobs${qs({ limit: 20 })}`, signal), 2000);
  const cdn = usePoll((signal) => get<CdnView>("/api/admin/cdn", signal), 2000);
  const fleet = usePoll((signal) => get<ServicesView>("/api/admin/services", signal), 2000);
  const items = jobs.data?.items ?? [];
  const running = items.filter((j) => j.state === "running" || j.state === "queued");
  const failed = items.filter((j) => j.state === "failed");
  const edges = cdn.data?.edges ?? [];
  const healthy = edges.filter((e) => ["healthy", "live"].includes(edgeHealth(e))).length;
  const apps = fleet.data?.apps ?? [];
  const instances = apps.flatMap((a) => a.instances);
  const up = instances.filter((i) => (i.status ?? "UP").toUpperCase() === "UP").length;
  const open = (fleet.data?.breakers ?? []).filter((b) => b.state.toLowerCase() !== "closed");
  return (
    <Page title="Overview" testid="overview">
      <div class="tiles">
        <Link class="tile" href="/admin/jobs">
          <b>{running.length}</b> jobs running or queued
        </Link>
        <Link class="tile" href="/admin/jobs">
          <b>{failed.length}</b> of the last {items.length} jobs failed
        </Link>
        <Link class="tile" href="/admin/services">
          <b>
            {up}/{instances.length}
          </b>{" "}
          instances up in {apps.length} services
        </Link>
        <Link class="tile" href="/admin/services">
          <b>{open.length}</b> breakers not closed
        </Link>
        <Link class="tile" href="/admin/cdn">
          <b>
            {healthy}/{edges.length}
          </b>{" "}
          edges healthy
        </Link>
      </div>
      <Problem error={jobs.error} />
      <Problem error={fleet.error} />
      <Problem error={cdn.error} />
      <div class="card">
        <h2>Recent jobs</h2>
        {items.length === 0 ? (
          <p class="muted">
            No jobs yet. <Link href="/admin/upload">Upload a master</Link>.
          </p>
        ) : (
          <table class="grid">
            <tbody>
              {items.slice(0, 8).map((j) => (
                <tr key={j.id} data-job-id={j.id} data-state={j.state}>
                  <td>
                    <Link href={`/admin/jobs/${encodeURIComponent(j.id)}`}>{j.title || j.id}</Link>
                    {j.error ? <div class="error-text">{j.error}</div> : null}
                  </td>
                  <td>
                    <StateBadge state={j.state} />
                  </td>
                  <td class="wide">
                    <Bar value={j.progress} state={j.state} />
                  </td>
                  <td>{ago(j.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {open.length > 0 ? (
        <div class="card">
          <h2>Breakers not closed</h2>
          <ul class="plain">
            {open.map((b) => (
              <li key={`${b.instance}>${b.dependency}`}>
                <code>{b.instance}</code> → {b.dependency}: <StateBadge state={b.state} />
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </Page>
  );
}
