// Small pieces every admin page uses.
import type { ComponentChildren, JSX } from "preact";
import { errorText } from "./http";
import { ago, percent } from "../common/units";

/** An API or upload error in plain words (nothing when there is none). */
export function ErrorBanner({ error, prefix }: { error: unknown; prefix?: string }): JSX.Element | null {
  if (error === null || error === undefined || error === "") return null;
  const text = typeof error === "string" ? error : errorText(error);
  return (
    <p class="error-banner" data-testid="error-banner" role="alert">
      {prefix ? `${prefix}: ` : ""}
      {text}
    </p>
  );
}

export function Loading({ what }: { what?: string }): JSX.Element {
  return <p class="muted">Loading{what ? ` ${what}` : ""}…</p>;
}

/** A bar for a 0..1 fraction, with the percentage written beside it. */
export function Bar({ value, state, testid, label }: { value: number | null | undefined; state?: string; testid?: string; label?: string }): JSX.Element {
  const v = value === null || value === undefined || !Number.isFinite(value) ? 0 : Math.max(0, Math.min(1, value));
  return (
    <span class={`bar ${state ? `bar-${state}` : ""}`} data-testid={testid} role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(v * 100)} aria-label={label}>
      <span class="bar-fill" style={{ width: `${(v * 100).toFixed(1)}%` }} />
      <span class="bar-text">{label ?? percent(v)}</span>
    </span>
  );
}

/** A coloured word for a state: queued, running, succeeded, failed, open, closed... */
export function StateBadge({ state }: { state: string | null | undefined }): JSX.Element {
  const s = state ?? "unknown";
  return <span class={`badge badge-${s.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`}>{s.replace(/_/g, " ")}</span>;
}

export function Fresh({ at, error }: { at: number | null; error: unknown }): JSX.Element {
  return (
    <span class={`fresh ${error ? "stale" : ""}`} title={at ? new Date(at).toLocaleTimeString() : ""}>
      {error ? "refresh failed" : at ? `updated ${ago(at / 1000)}` : "loading"}
    </span>
  );
}

export function Page({ title, actions, children, testid }: { title: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; testid?: string }): JSX.Element {
  return (
    <section class="page" data-testid={testid}>
      <header class="page-head">
        <h1>{title}</h1>
        {actions ? <div class="page-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }): JSX.Element {
  return <p class="empty">{children}</p>;
}

/** The parts of an answer the server could not gather (a dead instance, steering down...). */
export function Missing({ items }: { items: { source: string; part: string; reason: string }[] | null | undefined }): JSX.Element | null {
  if (!items || items.length === 0) return null;
  return (
    <div class="notice" data-testid="unavailable">
      Part of this page could not be gathered:
      <ul>
        {items.map((u) => (
          <li key={`${u.source}/${u.part}`}>
            <b>{u.source}</b> ({u.part}): {u.reason}
          </li>
        ))}
      </ul>
    </div>
  );
}
