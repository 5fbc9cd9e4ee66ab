// Graphs from the telemetry store: request rate, latency and errors per service, the
// gateway's answers by status class, and any metric the admin picks. Refreshed every 2 s (the
// store samples every 10 s).
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { usePoll } from "../common/poll";
import { get, qs } from "./http";
import { LineChart } from "./chart";
import type { Line } from "./chart";
import type { MetricQuery, SeriesLine } from "./types";
import { ErrorBanner, Missing, Page } from "./ui";

const REFRESH_MS = 2000;

export interface Query {
  name: string;
  where?: Record<string, string>;
  groupBy?: string[];
  agg?: "sum" | "avg" | "max" | "min" | "count";
}

export function queryUrl(q: Query, minutes: number): string {
  const tags = Object.entries(q.where ?? {}).map(([k, v]) => `${k}:${v}`);
  return `/api/admin/metrics/query${qs({ name: q.name, tag: tags, group_by: (q.groupBy ?? []).join(","), agg: q.agg ?? "sum", minutes })}`;
}

export function runQuery(q: Query, minutes: number, signal?: AbortSignal): Promise<MetricQuery> {
  return get<MetricQuery>(queryUrl(q, minutes), signal);
}

function labelOf(s: SeriesLine, keys: string[]): string {
  const parts = keys.map((k) => s.tags[k]).filter((v): v is string => !!v);
  return parts.length ? parts.join(" · ") : Object.values(s.tags).join(" · ") || "all";
}

/** Add up series that map to the same label (null drops a series), point by point. */
export function regroup(series: SeriesLine[], label: (s: SeriesLine) => string | null): Line[] {
  const out = new Map<string, Map<number, number>>();
  for (const s of series) {
    const l = label(s);
    if (l === null) continue;
    const acc = out.get(l) ?? new Map<number, number>();
    for (const [t, v] of s.points) if (Number.isFinite(v)) acc.set(t, (acc.get(t) ?? 0) + v);
    out.set(l, acc);
  }
  return [...out.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([l, acc]) => ({ label: l, points: [...acc.entries()].sort((a, b) => a[0] - b[0]) }));
}

export const perSecond = (v: number): string => (v >= 100 ? `${v.toFixed(0)}/s` : v >= 10 ? `${v.toFixed(1)}/s` : `${v.toFixed(2)}/s`);
export const millis = (s: number): string => {
  const ms = s * 1000;
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
};
export const plain = (v: number): string => (Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : Number.isInteger(v) ? String(v) : v.toFixed(2));

interface GraphSpec {
  id: string;
  title: string;
  note?: string;
  query: Query;
  format: (v: number) => string;
  lines?: (series: SeriesLine[]) => Line[];
}

const statusClass = (s: SeriesLine): string => `${(s.tags.status ?? "?").charAt(0)}xx`;

export const GRAPHS: GraphSpec[] = [
  {
    id: "requests",
    title: "Requests per second, by service",
    query: { name: "ipc.server.call", where: { statistic: "count" }, groupBy: ["service"], agg: "sum" },
    format: perSecond,
  },
  {
    id: "latency-p99",
    title: "Latency p99, by service",
    note: "the slowest instance's 99th percentile",
    query: { name: "ipc.server.call", where: { statistic: "percentile", percentile: "p99" }, groupBy: ["service"], agg: "max" },
    format: millis,
  },
  {
    id: "latency-p50",
    title: "Latency p50, by service",
    query: { name: "ipc.server.call", where: { statistic: "percentile", percentile: "p50" }, groupBy: ["service"], agg: "max" },
    format: millis,
  },
  {
    id: "errors",
    title: "Server errors (5xx) per second, by service",
    query: { name: "ipc.server.call", where: { statistic: "count" }, groupBy: ["service", "status"], agg: "sum" },
    format: perSecond,
    lines: (series) => regroup(series, (s) => ((s.tags.status ?? "").startsWith("5") ? (s.tags.service ?? "?") : null)),
  },
  {
    id: "gateway",
    title: "Gateway answers per second, by status class",
    query: { name: "gateway.requests", where: { statistic: "count" }, groupBy: ["status"], agg: "sum" },
    format: perSecond,
    lines: (series) => regroup(series, statusClass),
  },
];

function Graph({ spec, minutes }: { spec: GraphSpec; minutes: number }): JSX.Element {
  const data = usePoll((signal) => runQuery(spec.query, minutes, signal), REFRESH_MS, [spec.id, JSON.stringify(spec.query), minutes]);
  const d = data.data;
  const lines = d ? (spec.lines ? spec.lines(d.series) : d.series.map((s) => ({ label: labelOf(s, spec.query.groupBy ?? []), points: s.points }))) : [];
  return (
    <section class="card graph" data-graph={spec.id}>
      <h2>
        {spec.title}
        {spec.note ? <span class="hint"> {spec.note}</span> : null}
      </h2>
      <ErrorBanner error={data.error} prefix="Could not load" />
      <Missing items={d?.unavailable} />
      <LineChart lines={lines} format={spec.format} start={d?.start} end={d?.end} step={d?.step} metric={spec.query.name} label={spec.title} />
    </section>
  );
}

function Custom({ minutes }: { minutes: number }): JSX.Element {
  const names = usePoll((signal) => get<{ names: string[] }>("/api/admin/metrics/names", signal), 30000);
  const [name, setName] = useState("");
  const [tags, setTags] = useState("");
  const [groupBy, setGroupBy] = useState("");
  const [agg, setAgg] = useState<NonNullable<Query["agg"]>>("sum");
  const [error, setError] = useState<string | null>(null);
  const [spec, setSpec] = useState<GraphSpec | null>(null);
  const tagsOf = usePoll(
    (signal) => (name ? get<{ tags: Record<string, string[]> }>(`/api/admin/metrics/tags${qs({ name })}`, signal) : Promise.resolve(null)),
    0,
    [name],
  );
  const show = (e: JSX.TargetedEvent<HTMLFormElement>): void => {
    e.preventDefault();
    const where: Record<string, string> = {};
    for (const item of tags.split(/[,\s]+/).filter(Boolean)) {
      const [k, ...rest] = item.split(":");
      const v = rest.join(":");
      if (!k || !v) {
        setError(`"${item}" should look like key:value, e.g. service:media`);
        return;
      }
      where[k] = v;
    }
    if (!name) {
      setError("Choose a metric.");
      return;
    }
    setError(null);
    const keys = groupBy.split(/[,\s]+/).filter(Boolean);
    setSpec({ id: `custom:${name}`, title: name, query: { name, where, groupBy: keys, agg }, format: plain });
  };
  return (
    <section class="card">
      <h2>Any metric</h2>
      <form class="actions" onSubmit={show} data-testid="metric-form">
        <select name="name" value={name} onChange={(e) => setName(e.currentTarget.value)} aria-label="Metric">
          <option value="">{names.data ? `Metric (${names.data.names.length})…` : "Loading names…"}</option>
          {(names.data?.names ?? []).map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
        <input name="tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} placeholder="statistic:count service:media" aria-label="Tags" />
        <input name="group_by" value={groupBy} onInput={(e) => setGroupBy(e.currentTarget.value)} placeholder="group by: service, route" aria-label="Group by" />
        <select name="agg" value={agg} onChange={(e) => setAgg(e.currentTarget.value as NonNullable<Query["agg"]>)} aria-label="Aggregation">
          {["sum", "avg", "max", "min", "count"].map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
        <button type="submit">Draw</button>
      </form>
      <p class="hint">Timers have a statistic tag: count (calls/s), totalTime, max, percentile (with percentile:p50/p90/p99, seconds). Counters are per second.</p>
      {tagsOf.data ? (
        <p class="hint" data-testid="metric-tags">
          Tags of {name}:{" "}
          {Object.entries(tagsOf.data.tags)
            .map(([k, vs]) => `${k} (${vs.slice(0, 6).join(", ")}${vs.length > 6 ? ", …" : ""})`)
            .join("; ") || "none"}
        </p>
      ) : null}
      <ErrorBanner error={names.error} prefix="Could not list the metrics" />
      <ErrorBanner error={error} />
      {spec ? <Graph key={JSON.stringify(spec.query)} spec={spec} minutes={minutes} /> : null}
    </section>
  );
}

export function MetricsPage(): JSX.Element {
  const [minutes, setMinutes] = useState(15);
  return (
    <Page
      title="Metrics"
      testid="metrics-view"
      actions={
        <>
          <label>
            Last{" "}
            <select value={String(minutes)} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
              {[5, 15, 30, 60].map((m) => (
                <option key={m} value={String(m)}>
                  {m} minutes
                </option>
              ))}
            </select>
          </label>
          <span class="fresh">refreshing every {REFRESH_MS / 1000} s</span>
        </>
      }
    >
      <div class="graphs">
        {GRAPHS.map((g) => (
          <Graph key={g.id} spec={g} minutes={minutes} />
        ))}
      </div>
      <Custom minutes={minutes} />
    </Page>
  );
}
