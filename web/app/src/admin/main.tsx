// matinee's admin console: upload, jobs, assets, titles, CDN, services, metrics. Admins only.
import { render } from "preact";
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, get, post } from "./http";
import { Link, navigate, usePlace } from "./router";
import type { Me } from "./types";
import { setMe, useSession } from "./session";
import { useUpload } from "./uploads";
import { ErrorBanner } from "./ui";
import { Overview } from "./overview";
import { UploadPage } from "./upload";
import { JobDetail, JobsPage } from "./jobs";
import { AssetDetail } from "./asset";
import { TitleDetail, TitlesPage } from "./titles";
import { CdnPage } from "./cdn";
import { ServicesPage } from "./services";
import { MetricsPage } from "./metrics";

const SECTIONS: [string, string][] = [
  ["/admin", "Overview"],
  ["/admin/upload", "Upload"],
  ["/admin/jobs", "Jobs"],
  ["/admin/titles", "Titles"],
  ["/admin/cdn", "CDN"],
  ["/admin/services", "Services"],
  ["/admin/metrics", "Metrics"],
];

function Nav({ path, me }: { path: string; me: Me }): JSX.Element {
  const section = path.startsWith("/admin/assets") ? "/admin/jobs" : path; // an asset is a job's result
  const current = (href: string): boolean => (href === "/admin" ? section === "/admin" : section === href || section.startsWith(`${href}/`));
  const signOut = async (): Promise<void> => {
    try {
      await post("/api/identity/signout");
    } catch {
      // signed out already
    }
    setMe(null);
  };
  return (
    <nav class="admin-nav" data-testid="admin-nav" aria-label="Admin sections">
      <Link href="/admin" class="brand">
        matinee <span>admin</span>
      </Link>
      <ul>
        {SECTIONS.map(([href, label]) => (
          <li key={href}>
            <Link href={href} class={current(href) ? "active" : ""} aria-current={current(href) ? "page" : undefined}>
              {label}
            </Link>
          </li>
        ))}
      </ul>
      <div class="who">
        <span title={me.roles.join(", ")}>{me.email}</span>
        <a href="/">Viewer app</a>
        <button type="button" class="link" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
    </nav>
  );
}

function Routes({ path }: { path: string }): JSX.Element {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent); // ["admin", section, id]
  const [, section, id] = parts;
  if (parts[0] !== "admin") return <NotFound />;
  switch (section) {
    case undefined:
      return <Overview />;
    case "upload":
      return <UploadPage key={location.search} />;
    case "jobs":
      return id ? <JobDetail key={id} id={id} /> : <JobsPage />;
    case "assets":
      return id ? <AssetDetail key={id} id={id} /> : <NotFound />;
    case "titles":
      return id ? <TitleDetail key={id} id={id} /> : <TitlesPage />;
    case "cdn":
      return <CdnPage />;
    case "services":
      return <ServicesPage />;
    case "metrics":
      return <MetricsPage />;
    default:
      return <NotFound />;
  }
}

function NotFound(): JSX.Element {
  return (
    <section class="page">
      <h1>Not found</h1>
      <p>
        There is no admin page at this address. <Link href="/admin">Go to the overview</Link>.
      </p>
    </section>
  );
}

function SignIn({ ended }: { ended: boolean }): JSX.Element {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: JSX.TargetedEvent<HTMLFormElement>): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await post("/api/identity/signin", { email: email.trim(), password, device_name: "matinee admin console" });
      setMe(await get<Me>("/api/identity/me"));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="gate">
      <h1>matinee admin</h1>
      <p>{ended ? "Your session has ended. Sign in again to carry on." : "Sign in with an admin account."}</p>
      <form class="form signin" data-testid="signin-form" onSubmit={(e) => void submit(e)}>
        <label>
          Email
          <input name="email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <ErrorBanner error={error} />
        <div class="actions">
          <button type="submit" class="primary" data-testid="signin-submit" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
          <a href="/">Go to the viewer app</a>
        </div>
      </form>
    </main>
  );
}

function AdminsOnly({ me }: { me: Me }): JSX.Element {
  const [switching, setSwitching] = useState(false);
  if (switching) return <SignIn ended={false} />;
  const other = async (e: Event): Promise<void> => {
    e.preventDefault();
    try {
      await post("/api/identity/signout");
    } catch {
      // signed out already
    }
    setSwitching(true);
  };
  return (
    <main class="gate" data-testid="admins-only">
      <h1>Admins only</h1>
      <p>The console is for matinee's administrators. You are signed in as {me.email}, which is not an admin account.</p>
      <p>
        <a href="/admin" data-testid="admin-signin-link" onClick={(e) => void other(e)}>
          Sign in with an admin account
        </a>{" "}
        or <a href="/">go back to the viewer app</a>.
      </p>
    </main>
  );
}

function App(): JSX.Element {
  const place = usePlace();
  const session = useSession();
  const [error, setError] = useState<unknown>(null);
  const [checked, setChecked] = useState(false);

  useEffect(() => {
    get<Me>("/api/identity/me")
      .then((m) => setMe(m))
      .catch((err: unknown) => {
        if (!(err instanceof ApiError && err.status === 401)) setError(err);
      })
      .finally(() => setChecked(true));
  }, []);

  useEffect(() => {
    const section = SECTIONS.find(([href]) => href !== "/admin" && place.path.startsWith(href));
    document.title = `${section ? section[1] : "Overview"} · matinee admin`;
  }, [place.path]);

  if (error && !session.me) {
    return (
      <main class="gate">
        <h1>The console cannot start</h1>
        <ErrorBanner error={error} />
        <p>
          <button type="button" onClick={() => location.reload()}>
            Try again
          </button>
        </p>
      </main>
    );
  }
  if (!checked) return <main class="gate muted">Loading…</main>;
  if (!session.me || session.ended) return <SignIn ended={session.ended} />;
  if (!session.me.roles.includes("admin")) return <AdminsOnly me={session.me} />;
  return (
    <div class="admin">
      <Nav path={place.path} me={session.me} />
      <main class="admin-main">
        <UploadBadge />
        <Routes path={place.path} />
      </main>
    </div>
  );
}

/** While an upload runs, a note on every other page. */
function UploadBadge(): JSX.Element | null {
  const s = useUpload();
  const place = usePlace();
  if (!s || place.path === "/admin/upload" || (s.phase !== "uploading" && s.phase !== "paused" && s.phase !== "finishing")) return null;
  return (
    <p class="notice upload-badge">
      {s.phase === "paused" ? "Paused" : "Uploading"} {s.fileName}: {s.total ? ((s.sent / s.total) * 100).toFixed(0) : 0}% · <Link href="/admin/upload">see the upload</Link>
    </p>
  );
}

if (location.pathname === "/admin/") navigate("/admin", true);
render(<App />, document.getElementById("app")!);
