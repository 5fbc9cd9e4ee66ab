// Line charts drawn as SVG: time on x, one line per series, a legend with the latest values,
// and a readout under the pointer.
import type { JSX } from "preact";
import { useState } from "preact/hooks";

export interface Line {
  label: string;
  points: [number, number][]; // [epoch seconds, value], oldest first
}

const COLORS = ["#3b82f6", "#ef4444", "#10b981", "#f59e0b", "#8b5cf6", "#ec4899", "#14b8a6", "#f97316", "#6366f1", "#84cc16", "#06b6d4", "#a855f7"];

export function color(i: number): string {
  return COLORS[i % COLORS.length]!;
}

/** Round numbers for axis ticks: 1, 2 or 5 times a power of ten. */
export function niceTicks(max: number, count = 4): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

function hhmm(t: number): string {
  const d = new Date(t * 1000);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function hhmmss(t: number): string {
  const d = new Date(t * 1000);
  return `${hhmm(t)}:${String(d.getSeconds()).padStart(2, "0")}`;
}

export interface ChartProps {
  lines: Line[];
  format: (v: number) => string;
  start?: number;
  end?: number;
  /** the series' step in seconds: points further apart than 1.5 steps are not joined */
  step?: number;
  height?: number;
  metric?: string;
  label?: string;
}

export function LineChart({ lines, format, start, end, step, height = 200, metric, label }: ChartProps): JSX.Element {
  const [hover, setHover] = useState<number | null>(null);
  const W = 640;
  const H = height;
  const L = 58;
  const R = 10;
  const T = 8;
  const B = 22;
  const all = lines.flatMap((l) => l.points);
  const t0 = start ?? (all.length ? Math.min(...all.map((p) => p[0])) : 0);
  const t1 = end ?? (all.length ? Math.max(...all.map((p) => p[0])) : 1);
  const span = Math.max(t1 - t0, 1);
  const vmax = all.length ? Math.max(...all.map((p) => p[1])) : 0;
  const ticks = niceTicks(vmax > 0 ? vmax : 1);
  const top = ticks[ticks.length - 1]!;
  const x = (t: number): number => L + ((t - t0) / span) * (W - L - R);
  const y = (v: number): number => T + (1 - v / top) * (H - T - B);
  const xticks: number[] = [];
  const every = [60, 120, 300, 600, 900, 1800, 3600, 7200].find((s) => span / s <= 6) ?? 14400;
  for (let t = Math.ceil(t0 / every) * every; t <= t1; t += every) xticks.push(t);

  const paths = lines.map((l) => {
    let d = "";
    let prev: number | null = null;
    for (const [t, v] of l.points) {
      if (!Number.isFinite(v)) {
        prev = null;
        continue;
      }
      const gap = prev !== null && step !== undefined && t - prev > step * 1.5;
      d += `${d === "" || gap || prev === null ? "M" : "L"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      prev = t;
    }
    return d;
  });
  const singles = lines.map((l) => (l.points.length === 1 ? l.points[0]! : null));

  const move = (e: JSX.TargetedMouseEvent<SVGSVGElement>): void => {
    const box = e.currentTarget.getBoundingClientRect();
    const px = ((e.clientX - box.left) / box.width) * W;
    if (px < L || px > W - R) {
      setHover(null);
      return;
    }
    setHover(t0 + ((px - L) / (W - L - R)) * span);
  };
  const nearest = (l: Line, t: number): [number, number] | null => {
    let best: [number, number] | null = null;
    for (const p of l.points) if (!best || Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
    return best && step !== undefined && Math.abs(best[0] - t) > step ? null : best;
  };

  return (
    <figure class="chart">
      <svg
        data-testid="metric-graph"
        data-metric={metric}
        data-series={lines.length}
        data-points={all.length}
        viewBox={`0 0 ${W} ${H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={label ?? metric ?? "graph"}
        onMouseMove={move}
        onMouseLeave={() => setHover(null)}
      >
        {ticks.map((v) => (
          <g key={`y${v}`} class="tick">
            <line x1={L} x2={W - R} y1={y(v)} y2={y(v)} class="grid-line" />
            <text x={L - 6} y={y(v) + 4} text-anchor="end">
              {format(v)}
            </text>
          </g>
        ))}
        {xticks.map((t) => (
          <text key={`x${t}`} class="tick" x={x(t)} y={H - 6} text-anchor="middle">
            {hhmm(t)}
          </text>
        ))}
        <line x1={L} x2={L} y1={T} y2={H - B} class="axis" />
        <line x1={L} x2={W - R} y1={H - B} y2={H - B} class="axis" />
        {paths.map((d, i) => (d ? <path key={lines[i]!.label} d={d} fill="none" stroke={color(i)} stroke-width={1.8} vector-effect="non-scaling-stroke" /> : null))}
        {singles.map((p, i) => (p ? <circle key={`c${i}`} cx={x(p[0])} cy={y(p[1])} r={2.5} fill={color(i)} /> : null))}
        {hover !== null ? <line x1={x(hover)} x2={x(hover)} y1={T} y2={H - B} class="cursor" /> : null}
        {all.length === 0 ? (
          <text x={(L + W - R) / 2} y={(T + H - B) / 2} text-anchor="middle" class="nodata">
            no data in this period
          </text>
        ) : null}
      </svg>
      {hover !== null ? (
        <div class="readout">
          <strong>{hhmmss(hover)}</strong>
          {lines.map((l, i) => {
            const p = nearest(l, hover);
            return p ? (
              <span key={l.label}>
                <i style={{ background: color(i) }} /> {l.label}: {format(p[1])}
              </span>
            ) : null;
          })}
        </div>
      ) : null}
      <figcaption class="legend">
        {lines.map((l, i) => {
          const last = l.points[l.points.length - 1];
          return (
            <span key={l.label}>
              <i style={{ background: color(i) }} /> {l.label}
              {last ? <b> {format(last[1])}</b> : null}
            </span>
          );
        })}
      </figcaption>
    </figure>
  );
}

/** A tiny line of recent values (no axes), e.g. an edge's load over the last minute. */
export function Sparkline({ values, max, width = 90, height = 22 }: { values: number[]; max?: number; width?: number; height?: number }): JSX.Element {
  const top = max ?? Math.max(1e-9, ...values);
  const n = values.length;
  const pts = values.map((v, i) => `${((i / Math.max(n - 1, 1)) * width).toFixed(1)},${(height - 1 - (Math.min(v, top) / top) * (height - 2)).toFixed(1)}`);
  return (
    <svg class="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} aria-hidden="true">
      {n > 1 ? <polyline points={pts.join(" ")} fill="none" stroke="currentColor" stroke-width={1.3} /> : null}
    </svg>
  );
}
