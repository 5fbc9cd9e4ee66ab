// The fleet: instances from discovery, circuit breakers and load shedding.
import type { JSX } from "preact";
import { usePoll } from "../common/poll";
import { ago, dateTime, fixed, percent } from "../common/units";
import { get } from "./http";
import type { ServicesView } from "./types";
import { Empty, ErrorBanner, Fresh, Loading, Missing, Page, StateBadge } from "./ui";

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export function ServicesPage(): JSX.Element {
  const view = usePoll((signal) => get<ServicesView>("/api/admin/services", signal), 2000);
  const v = view.data;
  const apps = [...(v?.apps ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const total = apps.reduce((n, a) => n + a.instances.length, 0);
  const up = apps.reduce((n, a) => n + a.instances.filter((i) => (i.status ?? "UP").toUpperCase() === "UP").length, 0);
  const open = (v?.breakers ?? []).filter((b) => b.state.toLowerCase() !== "closed").length;
  const shedding = (v?.shedding ?? []).filter((s) => (num(s.shed_rate) ?? 0) > 0).length;
  return (
    <Page title="Services" testid="services-view" actions={<Fresh at={view.updatedAt} error={view.error} />}>
      <ErrorBanner error={view.error} prefix="Could not load the fleet" />
      {view.loading ? <Loading what="the fleet" /> : null}
      {v ? (
        <>
          <div class="tiles">
            <div class="tile">
              <b>{apps.length}</b> services
            </div>
            <div class="tile">
              <b>
                {up}/{total}
              </b>{" "}
              instances up
            </div>
            <div class="tile">
              <b>{open}</b> breakers not closed
            </div>
            <div class="tile">
              <b>{shedding}</b> routes shedding
            </div>
          </div>
          <Missing items={v.unavailable} />
          {v.source && v.source !== "registry" ? <p class="notice">The registry did not answer: the instances are its last known view ({v.source}).</p> : null}
          <h2>Instances</h2>
          {total === 0 ? <Empty>Discovery knows no instances.</Empty> : null}
          {total > 0 ? (
            <table class="grid instances">
              <thead>
                <tr>
                  <th>Service</th>
                  <th>Instance</th>
                  <th>Address</th>
                  <th>Zone</th>
                  <th>Status</th>
                  <th>Last renewal</th>
                </tr>
              </thead>
              <tbody>
                {apps.flatMap((app) =>
                  app.instances.map((i, n) => (
                    <tr key={`${app.name}/${i.id}`} data-testid="instance-row" data-app={app.name} data-instance={i.id} data-status={i.status ?? ""}>
                      <td>{n === 0 ? <b>{app.name}</b> : <span class="muted">{app.name}</span>}</td>
                      <td>
                        <code>{i.id}</code>
                      </td>
                      <td>{i.host ? `${i.host}${i.port ? `:${i.port}` : ""}` : "—"}</td>
                      <td>{i.zone ?? "—"}</td>
                      <td>
                        <StateBadge state={i.status ?? "unknown"} />
                      </td>
                      <td title={dateTime(i.last_renewal ?? null)}>{ago(i.last_renewal ?? null)}</td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          ) : null}
          <h2>Registry peers</h2>
          {(v.registries ?? []).length === 0 ? <Empty>No registry peer is configured.</Empty> : null}
          {(v.registries ?? []).length > 0 ? (
            <table class="grid registries">
              <thead>
                <tr>
                  <th>Peer</th>
                  <th>State</th>
                  <th class="num">Instances</th>
                  <th class="num">Renewals / threshold</th>
                  <th>Self-preservation</th>
                  <th>Replicates to</th>
                </tr>
              </thead>
              <tbody>
                {(v.registries ?? []).map((r) => (
                  <tr key={r.url} data-testid="registry-row" data-up={String(r.up)}>
                    <td>
                      <code>{r.url}</code>
                    </td>
                    <td>
                      <StateBadge state={r.up ? "UP" : "DOWN"} />
                      {r.error ? <span class="hint"> {r.error}</span> : null}
                    </td>
                    <td class="num">{num(r.instances) ?? "—"}</td>
                    <td class="num">{r.up ? `${num(r.renews_last_window) ?? "—"} / ${num(r.renew_threshold) ?? "—"}` : "—"}</td>
                    <td>{r.self_preservation === true ? <StateBadge state="ON" /> : r.self_preservation === false ? "off" : "—"}</td>
                    <td>
                      {(r.replicas ?? []).length === 0
                        ? "—"
                        : (r.replicas ?? []).map((p) => (
                            <div key={p.url}>
                              <code>{p.url}</code> {p.healthy ? "" : <StateBadge state="FAILING" />}
                              {p.queued > 0 ? <span class="hint"> {p.queued} queued</span> : null}
                            </div>
                          ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          <h2>Circuit breakers</h2>
          {(v.breakers ?? []).length === 0 ? <Empty>No breakers have been used yet.</Empty> : null}
          {(v.breakers ?? []).length > 0 ? (
            <table class="grid breakers">
              <thead>
                <tr>
                  <th>Instance</th>
                  <th>Calls to</th>
                  <th>State</th>
                  <th class="num">Error rate</th>
                  <th class="num">Calls</th>
                  <th class="num">Short-circuited</th>
                  <th class="num">In flight</th>
                  <th class="num">Mean latency</th>
                </tr>
              </thead>
              <tbody>
                {v.breakers.map((b) => (
                  <tr key={`${b.instance}>${b.dependency}`} data-testid="breaker-row" data-service={b.service ?? ""} data-state={b.state} data-instance={b.instance} data-dependency={b.dependency}>
                    <td>
                      <code>{b.instance}</code>
                    </td>
                    <td>{b.dependency}</td>
                    <td>
                      <StateBadge state={b.state} />
                      {(num(b.retry_in_s) ?? 0) > 0 ? <span class="hint"> retries in {fixed(b.retry_in_s, 1)} s</span> : null}
                    </td>
                    <td class="num">{percent(num(b.error_rate), 1)}</td>
                    <td class="num">{num(b.calls) ?? "—"}</td>
                    <td class="num">{num(b.short_circuited) ?? "—"}</td>
                    <td class="num">{num(b.inflight) ?? "—"}</td>
                    <td class="num">{num(b.latency_mean_s) === null ? "—" : `${fixed((num(b.latency_mean_s) ?? 0) * 1000, 1)} ms`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          <h2>Load shedding{v.window_minutes ? <span class="hint"> over the last {v.window_minutes} minutes</span> : null}</h2>
          {(v.shedding ?? []).length === 0 ? <Empty>No route has shed or admitted requests through the limiter yet.</Empty> : null}
          {(v.shedding ?? []).length > 0 ? (
            <table class="grid shedding">
              <thead>
                <tr>
                  <th>Instance</th>
                  <th>Routes</th>
                  <th class="num">Priority</th>
                  <th class="num">Shed rate</th>
                  <th class="num">Admitted</th>
                  <th class="num">Shed</th>
                </tr>
              </thead>
              <tbody>
                {v.shedding.map((s) => (
                  <tr key={`${s.instance}>${s.route}>${s.priority ?? ""}`} data-testid="shed-row" data-instance={s.instance} class={(num(s.shed_rate) ?? 0) > 0 ? "hot" : ""}>
                    <td>
                      <code>{s.instance}</code>
                    </td>
                    <td>{s.route === "*" ? "every route (concurrency limit)" : s.route || <span class="muted">below every route's priority</span>}</td>
                    <td class="num">{s.priority ?? "—"}</td>
                    <td class="num">{num(s.shed_rate) === null ? "—" : percent(num(s.shed_rate), 1)}</td>
                    <td class="num">{fixed(num(s.admitted), 0)}</td>
                    <td class="num">{fixed(num(s.shed), 0)}</td>
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
