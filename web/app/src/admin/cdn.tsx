// The CDN: every edge steering knows (health, load, storage, hit ratio), the proactive fill's
// progress per cluster, and the CDN tier.
import type { JSX } from "preact";
import { useRef } from "preact/hooks";
import { usePoll } from "../common/poll";
import { bitrate, bytes, fixed, percent } from "../common/units";
import { get } from "./http";
import { Sparkline } from "./chart";
import type { CdnView, Edge, FillCluster } from "./types";
import { Bar, Empty, ErrorBanner, Fresh, Loading, Missing, Page, StateBadge } from "./ui";

export function edgeName(e: Edge): string {
  return e.name || "edge";
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** healthy (steering ranks it), unhealthy (reports, but says it is not), down (no fresh
 * report: steering does not send plays there) */
export function edgeHealth(e: Edge): string {
  if (!e.live) return "down";
  return e.healthy ? "healthy" : "unhealthy";
}

function inflight(e: Edge): number | null {
  return num(e.load?.inflight);
}

function FillBar({ c }: { c: FillCluster }): JSX.Element {
  const planned = num(c.planned_bytes) ?? 0;
  const part = (v: unknown): string => `${planned > 0 ? ((num(v) ?? 0) / planned) * 100 : 0}%`;
  return (
    <span class="stack" role="img" aria-label={`done ${bytes(num(c.done_bytes))} of ${bytes(planned)}`}>
      <span class="stack-done" style={{ width: part(c.done_bytes) }} />
      <span class="stack-queued" style={{ width: part(c.queued_bytes) }} />
      <span class="stack-failed" style={{ width: part(c.failed_bytes) }} />
    </span>
  );
}

function Pairs({ value }: { value: Record<string, unknown> | null | undefined }): JSX.Element {
  if (!value) return <span class="muted">—</span>;
  return (
    <span class="pairs">
      {Object.entries(value).map(([k, v]) => (
        <span key={k}>
          {k.replace(/_/g, " ")}: <b>{k.endsWith("_bytes") && typeof v === "number" ? bytes(v) : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}</b>
        </span>
      ))}
    </span>
  );
}

export function CdnPage(): JSX.Element {
  const cdn = usePoll((signal) => get<CdnView>("/api/admin/cdn", signal), 2000);
  const history = useRef(new Map<string, number[]>());
  const seen = useRef<number | null>(null);
  if (cdn.data && cdn.updatedAt !== seen.current) {
    seen.current = cdn.updatedAt;
    for (const e of cdn.data.edges) {
      const h = history.current.get(edgeName(e)) ?? [];
      h.push(num(e.load?.bytes_out_per_s) ?? 0);
      if (h.length > 60) h.shift(); // 2 minutes at one answer per 2 s
      history.current.set(edgeName(e), h);
    }
  }
  const edges = cdn.data?.edges ?? [];
  const healthy = edges.filter((e) => edgeHealth(e) === "healthy").length;
  const ratios = edges.map((e) => num(e.hit_ratio)).filter((v): v is number => v !== null);
  const clusters = cdn.data?.fill?.clusters ?? [];
  const planned = clusters.reduce((a, c) => a + (num(c.planned_bytes) ?? 0), 0);
  const done = clusters.reduce((a, c) => a + (num(c.done_bytes) ?? 0), 0);
  const tier = cdn.data?.cdn_tier ?? null;
  const window = cdn.data?.fill?.window;
  return (
    <Page title="CDN" testid="cdn-view" actions={<Fresh at={cdn.updatedAt} error={cdn.error} />}>
      <ErrorBanner error={cdn.error} prefix="Could not load the CDN state" />
      <Missing items={cdn.data?.unavailable} />
      {cdn.loading ? <Loading what="the CDN" /> : null}
      {cdn.data ? (
        <>
          <div class="tiles">
            <div class="tile">
              <b>
                {healthy}/{edges.length}
              </b>
              edges healthy
            </div>
            <div class="tile">
              <b>{ratios.length ? percent(ratios.reduce((a, b) => a + b, 0) / ratios.length) : "—"}</b>
              mean hit ratio
            </div>
            <div class="tile">
              <b>{planned ? percent(done / planned) : "—"}</b>
              fill done ({bytes(done)} of {bytes(planned)})
            </div>
            <div class="tile">
              <b>{!tier ? "unknown" : tier.configured === false ? "none" : tier.up === false ? "down" : "up"}</b>
              CDN tier{tier?.name ? ` (${tier.name})` : ""}
            </div>
          </div>
          <h2>Edges</h2>
          {edges.length === 0 ? <Empty>No edges are registered: plays go to the CDN tier or the origin.</Empty> : null}
          {edges.length > 0 ? (
            <table class="grid edges">
              <thead>
                <tr>
                  <th>Edge</th>
                  <th>Region</th>
                  <th>Cluster</th>
                  <th>Health</th>
                  <th class="num">In flight</th>
                  <th class="num">Requests</th>
                  <th class="num">Out</th>
                  <th>Last 2 minutes</th>
                  <th class="wide">Storage</th>
                  <th class="num">Hit ratio</th>
                  <th class="num">Titles</th>
                  <th class="num">Report</th>
                </tr>
              </thead>
              <tbody>
                {edges.map((e) => {
                  const name = edgeName(e);
                  const used = num(e.used_bytes);
                  const cap = num(e.capacity_bytes);
                  const health = edgeHealth(e);
                  return (
                    <tr key={name} data-testid="edge-row" data-edge={name} data-health={health}>
                      <td>
                        {e.public_url ? (
                          <a href={e.public_url} target="_blank" rel="noreferrer">
                            {name}
                          </a>
                        ) : (
                          name
                        )}
                        {e.last_error ? <div class="error-text">{e.last_error}</div> : null}
                      </td>
                      <td>{e.region ?? "—"}</td>
                      <td>{e.cluster ?? "—"}</td>
                      <td>
                        <StateBadge state={health} />
                      </td>
                      <td class="num">{inflight(e) ?? "—"}</td>
                      <td class="num">{num(e.load?.requests_per_s) === null ? "—" : `${fixed(num(e.load?.requests_per_s), 1)}/s`}</td>
                      <td class="num">{num(e.load?.bytes_out_per_s) === null ? "—" : bitrate((num(e.load?.bytes_out_per_s) ?? 0) * 8)}</td>
                      <td title="bytes out per second">
                        <Sparkline values={history.current.get(name) ?? []} />
                      </td>
                      <td>{cap ? <Bar value={(used ?? 0) / cap} label={`${bytes(used)} of ${bytes(cap)}`} /> : bytes(used)}</td>
                      <td class="num">{percent(num(e.hit_ratio), 1)}</td>
                      <td class="num">{e.titles ?? "—"}</td>
                      <td class="num">
                        {num(e.report_age_s) === null ? "never" : `${fixed(num(e.report_age_s), 1)} s ago`}
                        {e.missed_reports ? <div class="error-text">{e.missed_reports} missed</div> : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          ) : null}
          <h2>Fill</h2>
          <p class="muted">
            {window ? `The fill runs between ${window.start_hour}:00 and ${window.end_hour}:00. ` : ""}
            Last run: <Pairs value={cdn.data.fill?.last_run ?? null} />
          </p>
          {clusters.length === 0 ? <Empty>No fill has been planned yet.</Empty> : null}
          {clusters.length > 0 ? (
            <table class="grid fill">
              <thead>
                <tr>
                  <th>Cluster</th>
                  <th>Region</th>
                  <th class="wide">Progress</th>
                  <th class="num">Planned</th>
                  <th class="num">Done</th>
                  <th class="num">Queued</th>
                  <th class="num">Failed</th>
                  <th class="num">Files</th>
                </tr>
              </thead>
              <tbody>
                {clusters.map((c) => (
                  <tr key={c.cluster} data-testid="fill-row" data-cluster={c.cluster}>
                    <td>{c.cluster}</td>
                    <td>{c.region ?? "—"}</td>
                    <td>
                      <FillBar c={c} />
                    </td>
                    <td class="num">{bytes(num(c.planned_bytes))}</td>
                    <td class="num">{bytes(num(c.done_bytes))}</td>
                    <td class="num">{bytes(num(c.queued_bytes))}</td>
                    <td class="num">{bytes(num(c.failed_bytes))}</td>
                    <td class="num">{num(c.planned_files) ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {clusters.length > 0 ? (
            <p class="legend">
              <span>
                <i class="stack-done" /> on the edges
              </span>
              <span>
                <i class="stack-queued" /> sent, not stored yet
              </span>
              <span>
                <i class="stack-failed" /> failed
              </span>
            </p>
          ) : null}
          <h2>CDN tier</h2>
          {tier && tier.configured !== false ? <Pairs value={tier} /> : <Empty>{tier ? "No CDN tier is configured." : "Steering did not say."}</Empty>}
        </>
      ) : null}
    </Page>
  );
}
