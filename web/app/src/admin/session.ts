// The signed-in admin, and whether the session has ended (any 401). The console signs in on
// its own page rather than sending the admin through the viewer app's profile picker.
import { useEffect, useState } from "preact/hooks";
import type { Me } from "./types";

let current: Me | null = null;
let ended = false;
const listeners = new Set<() => void>();

function emit(): void {
  for (const l of [...listeners]) l();
}

export function setMe(me: Me | null): void {
  current = me;
  if (me) ended = false;
  emit();
}

export function me(): Me | null {
  return current;
}

/** A call was answered 401: show the sign-in page (once). */
export function sessionEnded(): void {
  if (ended) return;
  ended = true;
  emit();
}

export function useSession(): { me: Me | null; ended: boolean } {
  const [, bump] = useState(0);
  useEffect(() => {
    const l = (): void => bump((n) => n + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return { me: current, ended };
}
