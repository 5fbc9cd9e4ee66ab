// matinee's viewer app: sign up and in, profiles, home, titles, search, account and the player.

import { render, type JSX } from "preact";
import { useEffect } from "preact/hooks";
import { match, navigate, useLocation } from "../common/router";
import { useStore } from "../common/store";
import { ErrorBanner, Header, Page, Spinner } from "./components/ui";
import { Account } from "./pages/account";
import { SignIn, SignUp } from "./pages/auth";
import { Home } from "./pages/home";
import { Profiles } from "./pages/profiles";
import { Search } from "./pages/search";
import { Title } from "./pages/title";
import { Watch } from "./player/Watch";
import { isPublic, me, playIntent, refreshMe, report, signinHref } from "./session";

// Opened straight on a player page: time to first frame counts from the page's start.
if (window.location.pathname.startsWith("/watch/")) playIntent.at = 0;

function NotFound(): JSX.Element {
  return (
    <Page class="not-found">
      <h1>Lost your way?</h1>
      <p class="muted">There is no page here.</p>
      <a class="button button-light" href="/">
        matinee home
      </a>
    </Page>
  );
}

function startAt(query: URLSearchParams): number | null {
  const t = query.get("t");
  if (t === null || t === "") return null;
  const n = Number(t);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

function App(): JSX.Element {
  const location = useLocation();
  const who = useStore(me);
  const path = location.path.replace(/\/+$/, "") || "/";

  useEffect(() => {
    refreshMe().catch((err: unknown) => {
      report(err);
      me.set(null);
    });
  }, []);

  // Where a person may be: signed out -> sign in; signed in without a profile -> pick one.
  const needsSignin = who === null && !isPublic(path);
  const needsProfile = who != null && who.profile === null && !isPublic(path) && path !== "/profiles" && path !== "/account";
  useEffect(() => {
    if (needsSignin) navigate(signinHref(), { replace: true });
    else if (needsProfile) navigate(`/profiles${path === "/" ? "" : `?next=${encodeURIComponent(location.href)}`}`, { replace: true });
  }, [needsSignin, needsProfile, path]);

  let page: JSX.Element;
  let chrome = true;
  let params: Record<string, string> | null;
  const watching = match("/watch/:id", path);
  if (who === undefined && !isPublic(path) && !watching) {
    page = (
      <Page>
        <Spinner />
      </Page>
    );
  } else if (watching && !needsSignin && !needsProfile) {
    // The player does not wait for /me: the play's own checks answer for the session, and
    // time to first frame is one round trip shorter.
    const t = startAt(location.query);
    page = <Watch id={watching.id!} startAt={t} key={`${watching.id}:${t ?? ""}`} />;
    chrome = false;
  } else if (path === "/signin") {
    page = <SignIn />;
  } else if (path === "/signup") {
    page = <SignUp />;
  } else if (needsSignin || needsProfile) {
    page = (
      <Page>
        <Spinner />
      </Page>
    );
  } else if (path === "/profiles") {
    page = <Profiles />;
    chrome = false;
  } else if (path === "/") {
    page = <Home />;
  } else if (path === "/search") {
    page = <Search />;
  } else if (path === "/account") {
    page = <Account />;
  } else if ((params = match("/title/:id", path))) {
    page = <Title id={params.id!} key={params.id} />;
  } else {
    page = <NotFound />;
  }

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      {chrome ? <Header /> : path === "/profiles" ? <header class="site-header plain"><span class="logo">matinee</span></header> : null}
      <ErrorBanner />
      {page}
    </>
  );
}

render(<App />, document.getElementById("app")!);
