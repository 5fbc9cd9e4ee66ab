// The upload under way, kept outside the pages so that moving around the console does not
// stop it. tus 1.0 through tus-js-client: 8 MiB chunks, retries, and the upload URL remembered
// in localStorage by the file's fingerprint (name, type, size, modification time), so that
// choosing the same file after a reload carries on where it stopped.
import { useEffect, useState } from "preact/hooks";
import * as tus from "tus-js-client";
import { ApiError } from "../common/api";
import { goSignIn } from "./http";

export const ENDPOINT = "/api/media/uploads";
export const CHUNK_SIZE = 8 * 1024 * 1024;

export type Phase = "uploading" | "paused" | "finishing" | "done" | "failed";

export interface UploadState {
  phase: Phase;
  fileName: string;
  title: string;
  titleId: string | null;
  sent: number;
  total: number;
  /** bytes per second over the last few seconds */
  rate: number | null;
  resumedFrom: number | null;
  uploadUrl: string | null;
  jobId: string | null;
  /** why the job id is not known (yet) */
  jobNote: string | null;
  error: string | null;
}

let state: UploadState | null = null;
let upload: tus.Upload | null = null;
let samples: [number, number][] = [];
const listeners = new Set<() => void>();

function set(patch: Partial<UploadState>): void {
  if (!state) return;
  state = { ...state, ...patch };
  for (const l of listeners) l();
}

export function current(): UploadState | null {
  return state;
}

export function useUpload(): UploadState | null {
  const [, bump] = useState(0);
  useEffect(() => {
    const l = (): void => bump((n) => n + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return state;
}

/** A HEAD that the gateway sheds (503 while it is busy, e.g. right after a slow chunk) must
 * not make tus-js-client give up the upload: it treats any failed HEAD as "gone" and starts
 * a new upload from byte 0. This stack retries such HEADs after Retry-After, and turns a 401
 * into an error (rather than a new upload) so the upload can carry on after signing in. */
class SessionEnded extends Error {
  constructor() {
    super("Your session has ended: sign in again, then resume the upload.");
    this.name = "SessionEnded";
  }
}

const BUSY = new Set([502, 503, 504]);
const HEAD_TRIES = 12;

class PatientRequest implements tus.HttpRequest {
  private headers: Record<string, string> = {};
  private progress: ((sent: number) => void) | null = null;
  private current: tus.HttpRequest;
  private aborted = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly inner: tus.HttpStack,
    private readonly method: string,
    private readonly url: string,
  ) {
    this.current = inner.createRequest(method, url);
  }

  getMethod(): string {
    return this.method;
  }
  getURL(): string {
    return this.url;
  }
  setHeader(header: string, value: string): void {
    this.headers[header] = value;
    this.current.setHeader(header, value);
  }
  getHeader(header: string): string | undefined {
    return this.headers[header];
  }
  setProgressHandler(handler: (sent: number) => void): void {
    this.progress = handler;
    this.current.setProgressHandler(handler);
  }
  async send(body: unknown): Promise<tus.HttpResponse> {
    for (let attempt = 1; ; attempt += 1) {
      const res = await this.current.send(body);
      const status = res.getStatus();
      if (this.method === "HEAD" && status === 401) {
        goSignIn();
        throw new SessionEnded();
      }
      if (this.method !== "HEAD" || !BUSY.has(status) || attempt >= HEAD_TRIES || this.aborted) return res;
      const after = Number(res.getHeader("Retry-After"));
      const wait = Math.min(Number.isFinite(after) && after > 0 ? after * 1000 : 1000, 10_000);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      if (this.aborted) return res;
      this.current = this.inner.createRequest(this.method, this.url);
      for (const [k, v] of Object.entries(this.headers)) this.current.setHeader(k, v);
      if (this.progress) this.current.setProgressHandler(this.progress);
    }
  }
  abort(): Promise<void> {
    this.aborted = true;
    this.wake?.();
    return this.current.abort();
  }
  getUnderlyingObject(): unknown {
    return this.current.getUnderlyingObject();
  }
}

class PatientStack implements tus.HttpStack {
  private readonly inner: tus.HttpStack = new tus.DefaultHttpStack({});
  createRequest(method: string, url: string): tus.HttpRequest {
    return new PatientRequest(this.inner, method, url);
  }
  getName(): string {
    return "matinee-patient-xhr";
  }
}

const httpStack = new PatientStack();

function sessionEnded(err: unknown): boolean {
  const cause = (err as Partial<tus.DetailedError> | null)?.causingError;
  return err instanceof SessionEnded || cause instanceof SessionEnded;
}

/** Plain words for a failure of tus-js-client (the server's own message when it sent one). */
export function tusErrorText(err: unknown): string {
  if (sessionEnded(err)) return new SessionEnded().message;
  const detailed = err as Partial<tus.DetailedError> | null;
  const res = detailed?.originalResponse ?? null;
  if (res) {
    const status = res.getStatus();
    let message = "";
    try {
      const body = JSON.parse(res.getBody()) as { message?: unknown; detail?: unknown };
      if (typeof body.message === "string") message = body.message;
      else if (typeof body.detail === "string") message = body.detail;
    } catch {
      message = (res.getBody() || "").slice(0, 300);
    }
    if (status === 401) return new SessionEnded().message;
    if (status === 403) return message || "Only admins may upload masters.";
    if (status === 413) return message || "The server refused a chunk as too large.";
    return message ? `${message} (HTTP ${status})` : `The upload failed (HTTP ${status}).`;
  }
  if (err instanceof Error) {
    if (/failed to upload chunk|request failed|network/i.test(err.message) && !navigator.onLine) {
      return "The network is down. The upload carries on from where it stopped when you resume.";
    }
    if (/response code: 0|xhr|network/i.test(err.message)) return "matinee cannot be reached. Resume the upload once it is back.";
    return err.message.replace(/^tus: /, "");
  }
  return String(err);
}

/** The unfinished uploads this browser remembers (newest first). */
export async function unfinished(): Promise<tus.PreviousUpload[]> {
  if (!tus.canStoreURLs) return [];
  const all = await tus.defaultOptions.urlStorage.findAllUploads();
  return all.sort((a, b) => String(b.creationTime).localeCompare(String(a.creationTime)));
}

/** How many bytes the server holds of an upload (null if it cannot tell). */
export async function offsetOf(url: string): Promise<number | null> {
  const r = await fetch(url, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" }, credentials: "same-origin" });
  if (r.status === 401) goSignIn();
  if (r.status === 404 || r.status === 410) return -1;
  if (!r.ok) return null;
  const v = Number(r.headers.get("Upload-Offset"));
  return Number.isFinite(v) ? v : null;
}

/** Forget an unfinished upload here, and ask the server to delete its parts. */
export async function forget(previous: tus.PreviousUpload): Promise<void> {
  await tus.defaultOptions.urlStorage.removeUpload(previous.urlStorageKey);
  if (previous.uploadUrl) {
    try {
      await tus.Upload.terminate(previous.uploadUrl, { retryDelays: null });
    } catch {
      // gone already, or the server is away: the parts expire on their own
    }
  }
}

/** The previous upload of this very file, if this browser remembers one. */
export async function previousOf(file: File): Promise<tus.PreviousUpload | null> {
  const probe = new tus.Upload(file, { endpoint: ENDPOINT });
  const found = await probe.findPreviousUploads();
  found.sort((a, b) => String(b.creationTime).localeCompare(String(a.creationTime)));
  return found[0] ?? null;
}

function rate(now: number, sent: number): number | null {
  samples.push([now, sent]);
  while (samples.length > 2 && now - samples[0]![0] > 5000) samples.shift();
  const [t0, b0] = samples[0]!;
  return now - t0 > 500 ? ((sent - b0) * 1000) / (now - t0) : null;
}

/** GET /api/media/uploads/{id}: where the upload stands (media's UploadStatus). */
interface UploadStatus {
  state: "uploading" | "assembling" | "submitted";
  job_id: string | null;
  offset: number;
  length: number;
}

async function jobIdOnce(uploadUrl: string): Promise<string | null> {
  const r = await fetch(uploadUrl, { headers: { accept: "application/json" }, credentials: "same-origin" });
  if (r.status === 401) {
    goSignIn();
    throw new ApiError(401, "unauthorized", "Sign in again to see the job.");
  }
  if (!r.ok) throw new ApiError(r.status, `http_${r.status}`, `The upload's state could not be read (HTTP ${r.status}).`);
  const body = (await r.json()) as UploadStatus;
  return body.job_id ?? null;
}

/** Ask the server which ingest job the finished upload started (it may take a moment to
 * assemble the master first). */
async function findJob(uploadUrl: string): Promise<void> {
  set({ jobNote: "The master is being assembled…" });
  const started = Date.now();
  let failures = 0;
  while (state && state.uploadUrl === uploadUrl && Date.now() - started < 180_000) {
    try {
      const id = await jobIdOnce(uploadUrl);
      if (id) {
        set({ jobId: id, jobNote: null, phase: "done" });
        return;
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
      failures += 1;
      if (failures >= 5) {
        set({ phase: "done", jobNote: `${err instanceof Error ? err.message : String(err)} Look for the job on the Jobs page.` });
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (state && state.uploadUrl === uploadUrl) {
    set({ phase: "done", jobNote: "The upload is complete, but its job has not started yet: look for it on the Jobs page." });
  }
}

export interface StartArgs {
  file: File;
  title: string;
  titleId: string | null;
  previous: tus.PreviousUpload | null;
  extra?: Record<string, string>;
}

export function startUpload({ file, title, titleId, previous, extra }: StartArgs): void {
  if (upload && state && (state.phase === "uploading" || state.phase === "finishing")) {
    throw new Error("An upload is already under way: wait for it, or pause and discard it first.");
  }
  const metadata: Record<string, string> = { filename: file.name, filetype: file.type || "application/octet-stream", title, ...extra };
  if (titleId) metadata.title_id = titleId;
  samples = [];
  state = {
    phase: "uploading",
    fileName: file.name,
    title,
    titleId,
    sent: 0,
    total: file.size,
    rate: null,
    resumedFrom: null,
    uploadUrl: previous?.uploadUrl ?? null,
    jobId: null,
    jobNote: null,
    error: null,
  };
  let first = true;
  const u = new tus.Upload(file, {
    endpoint: ENDPOINT,
    chunkSize: CHUNK_SIZE,
    retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
    metadata,
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    httpStack,
    onShouldRetry(err, _attempt, options) {
      if (sessionEnded(err)) return false;
      const status = err.originalResponse?.getStatus() ?? 0;
      if (status === 401 || status === 403 || status === 404 || status === 410 || status === 413) return false;
      return Array.isArray(options.retryDelays) && (status === 0 || status === 409 || status === 423 || status >= 500 || status === 429);
    },
    onUploadUrlAvailable() {
      set({ uploadUrl: u.url });
    },
    onProgress(sent, total) {
      if (first) {
        first = false;
        if (sent > 0) set({ resumedFrom: sent });
      }
      set({ sent, total, rate: rate(Date.now(), sent) });
    },
    onSuccess() {
      set({ sent: state?.total ?? file.size, phase: "finishing", rate: null, error: null });
      if (u.url) void findJob(u.url);
      else set({ phase: "done" });
    },
    onError(err) {
      const status = (err as Partial<tus.DetailedError>).originalResponse?.getStatus();
      if (status === 401) goSignIn();
      set({ phase: "failed", error: tusErrorText(err), rate: null });
    },
  });
  upload = u;
  if (previous) u.resumeFromPreviousUpload(previous);
  for (const l of listeners) l();
  u.start();
}

export function pause(): void {
  if (!upload || !state || state.phase !== "uploading") return;
  void upload.abort(false);
  samples = [];
  set({ phase: "paused", rate: null });
}

export function resume(): void {
  if (!upload || !state || (state.phase !== "paused" && state.phase !== "failed")) return;
  samples = [];
  set({ phase: "uploading", error: null });
  upload.start();
}

/** Stop and forget the upload (the server deletes its parts). */
export async function discard(): Promise<void> {
  const u = upload;
  upload = null;
  state = null;
  for (const l of listeners) l();
  if (u) {
    try {
      await u.abort(true);
    } catch {
      // the server may not hold it any more
    }
  }
}

/** Clear a finished upload from the page. */
export function dismiss(): void {
  if (state && (state.phase === "uploading" || state.phase === "finishing")) return;
  upload = null;
  state = null;
  for (const l of listeners) l();
}
