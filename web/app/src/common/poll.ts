// Live data: call a loader now and again every `intervalMs` (the next call starts once the
// previous one has answered, so a slow server is never asked twice at once). The last good
// answer stays on screen while a refresh fails; the failure is reported beside it.
import { useEffect, useRef, useState } from "preact/hooks";

export interface Poll<T> {
  /** The last answer (null until the first one arrives). */
  data: T | null;
  /** The last refresh's failure, cleared by the next success. */
  error: unknown;
  /** True until the first answer or failure. */
  loading: boolean;
  /** When the last answer arrived (ms since the epoch). */
  updatedAt: number | null;
  /** Load again now (e.g. after a change the page made). */
  refresh: () => void;
}

/**
 * `load` is called with an AbortSignal that fires when the component goes away or `deps`
 * change; `intervalMs` 0 loads once (and again on refresh()). Changing `deps` forgets the
 * data of the old ones.
 */
export function usePoll<T>(
  load: (signal: AbortSignal) => Promise<T>,
  intervalMs: number,
  deps: readonly unknown[] = [],
): Poll<T> {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean; updatedAt: number | null }>(
    { data: null, error: null, loading: true, updatedAt: null },
  );
  const [nonce, setNonce] = useState(0);
  const loader = useRef(load);
  loader.current = load;
  const key = JSON.stringify(deps);
  const lastKey = useRef(key);

  useEffect(() => {
    if (lastKey.current !== key) {
      lastKey.current = key;
      setState({ data: null, error: null, loading: true, updatedAt: null });
    }
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async (): Promise<void> => {
      try {
        const data = await loader.current(controller.signal);
        if (controller.signal.aborted) return;
        setState({ data, error: null, loading: false, updatedAt: Date.now() });
      } catch (err) {
        if (controller.signal.aborted) return;
        setState((s) => ({ ...s, error: err, loading: false }));
      }
      if (intervalMs > 0 && !controller.signal.aborted) timer = setTimeout(() => void tick(), intervalMs);
    };
    void tick();
    return () => {
      controller.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [key, nonce, intervalMs]);

  return { ...state, refresh: () => setNonce((n) => n + 1) };
}
