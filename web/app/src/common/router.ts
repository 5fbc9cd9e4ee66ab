// Client-side routing on the History API: real paths (no hashes), a hook that re-renders on
// every navigation, and a link that navigates without reloading the page.

import { createElement, type ComponentChildren, type JSX } from "preact";
import { useEffect, useState } from "preact/hooks";

export interface Location {
  path: string;
  query: URLSearchParams;
  /** The path with its query, as navigate() takes it. */
  href: string;
}

type Listener = () => void;
const listeners = new Set<Listener>();

function current(): Location {
  return {
    path: window.location.pathname,
    query: new URLSearchParams(window.location.search),
    href: window.location.pathname + window.location.search,
  };
}

function emit(): void {
  for (const listener of [...listeners]) listener();
}

window.addEventListener("popstate", emit);

/** Go to `href` (a same-origin path) without a reload. */
export function navigate(href: string, options: { replace?: boolean } = {}): void {
  const here = window.location.pathname + window.location.search;
  if (href === here && !options.replace) return;
  if (options.replace) window.history.replaceState(null, "", href);
  else window.history.pushState(null, "", href);
  window.scrollTo(0, 0);
  emit();
}

/** The current location; the component re-renders whenever it changes. */
export function useLocation(): Location {
  const [location, setLocation] = useState<Location>(current);
  useEffect(() => {
    const update = (): void => setLocation(current());
    listeners.add(update);
    update();
    return () => {
      listeners.delete(update);
    };
  }, []);
  return location;
}

/** The parameters of `path` if it matches `pattern` ("/title/:id"), else null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(":")) {
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return null;
      }
    } else if (w !== g) {
      return null;
    }
  }
  return params;
}

type LinkProps = JSX.HTMLAttributes<HTMLAnchorElement> & {
  href: string;
  children?: ComponentChildren;
  onNavigate?: () => void;
};

/** An <a> that navigates in the app on a plain left click (a new tab still works). */
export function Link({ href, onNavigate, onClick, ...rest }: LinkProps): JSX.Element {
  const handle = (event: JSX.TargetedMouseEvent<HTMLAnchorElement>): void => {
    if (typeof onClick === "function") onClick(event);
    if (event.defaultPrevented) return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    onNavigate?.();
    navigate(href);
  };
  return createElement("a", { ...rest, href, onClick: handle });
}
