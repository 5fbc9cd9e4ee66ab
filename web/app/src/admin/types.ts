// The shapes of the APIs the console reads (see web-spec.md and the services' schemas). Fields
// a service may leave out are optional, so the pages degrade instead of breaking.

export interface Me {
  id: string;
  email: string;
  country: string;
  roles: string[];
  profile: { id: string; name: string } | null;
}

// --- media: jobs, uploads, assets ---------------------------------------------------------

export type JobState = "queued" | "running" | "succeeded" | "failed" | string;

export interface JobTask {
  name: string;
  kind?: string;
  stage?: string;
  state: string;
  progress: number;
  attempts: number;
  error: string | null;
}

export interface Job {
  id: string;
  kind?: string;
  title: string;
  state: JobState;
  stage: string;
  progress: number;
  error: string | null;
  asset_id: string | null;
  created_at: string | number;
  updated_at: string | number;
  finished_at?: string | number | null;
  metadata?: Record<string, string | number | null | undefined>;
  tasks?: JobTask[];
}

export interface JobList {
  items: Job[];
  next_cursor?: string | null;
}

export interface AssetTrack {
  kind: string;
  frame_rate?: string | null;
  target_kbps?: number | null;
  name: string;
  codecs: string | null;
  language?: string | null;
  width?: number | null;
  height?: number | null;
  average_bps?: number | null;
  peak_bps?: number | null;
  vmaf?: number | null;
  vmaf_min?: number | null;
  playlist_key?: string | null;
}

export interface Asset {
  id: string;
  title: string;
  duration: number | null;
  width?: number | null;
  height?: number | null;
  poster?: string | null;
  poster_key?: string | null;
  trickplay_key?: string | null;
  hls_key?: string | null;
  dash_key?: string | null;
  prefix?: string | null;
  hls?: string;
  dash?: string;
  thumbnails?: { poster: string | null; trickplay: string | null; sprites: string[] };
  created_at?: string;
  tracks: AssetTrack[];
}

// --- catalog --------------------------------------------------------------------------------

export interface Genre {
  slug: string;
  name: string;
}

export interface Window {
  country: string;
  starts_at: string;
  ends_at: string | null;
}

export interface Episode {
  id: string;
  season: number;
  episode: number;
  name: string;
  playable: boolean;
}

export interface AdminTitle {
  id: string;
  kind: "movie" | "series" | "episode";
  name: string;
  synopsis: string;
  maturity: number;
  release_year: number;
  runtime_s: number | null;
  genres: Genre[];
  artwork: { poster: string | null; trickplay: string | null };
  playable: boolean;
  max_height: number | null;
  series_id?: string | null;
  season?: number | null;
  episode?: number | null;
  seasons?: { season: number; episodes: Episode[] }[] | null;
  published: boolean;
  asset_id: string | null;
  availability: Window[];
  created_at: string;
  updated_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

// --- web: fleet and CDN (src/matinee/services/web/schemas.py) -------------------------------

/** A part of an answer the web service could not gather, and why. */
export interface Unavailable {
  source: string;
  part: string;
  reason: string;
}

export interface Instance {
  id: string;
  host: string;
  port: number;
  status: string; // UP, DOWN, STARTING, OUT_OF_SERVICE, UNKNOWN
  zone: string;
  last_renewal: number | null; // epoch seconds
  metadata?: Record<string, string>;
}

export interface Breaker {
  instance: string;
  service?: string;
  dependency: string;
  state: string; // closed, open, half_open
  error_rate: number;
  calls: number;
  short_circuited?: number;
  inflight?: number;
  latency_mean_s?: number | null;
  retry_in_s?: number;
}

export interface Shed {
  instance: string;
  route: string;
  priority?: number | null;
  admitted: number;
  shed: number;
  shed_rate: number;
}

export interface RegistryPeer {
  url: string;
  up: boolean;
  apps?: number | null;
  instances?: number | null;
  renews_last_window?: number | null;
  renew_threshold?: number | null;
  self_preservation?: boolean | null;
  replicas?: { url: string; healthy: boolean; queued: number }[];
  error?: string | null;
}

export interface ServicesView {
  registries?: RegistryPeer[];
  apps: { name: string; instances: Instance[] }[];
  breakers: Breaker[];
  shedding: Shed[];
  window_minutes?: number;
  source?: string;
  unavailable?: Unavailable[];
}

export interface Edge {
  name: string;
  region: string;
  cluster: string;
  public_url: string;
  live: boolean;
  healthy: boolean;
  load: { inflight?: number | null; bytes_out_per_s?: number | null; requests_per_s?: number | null } | null;
  used_bytes?: number | null;
  capacity_bytes?: number | null;
  hit_ratio?: number | null;
  titles?: number | null;
  report_age_s?: number | null;
  missed_reports?: number | null;
  last_error?: string | null;
}

export interface FillCluster {
  cluster: string;
  region?: string;
  budget_bytes?: number;
  planned_files?: number;
  titles?: unknown;
  planned_bytes?: number;
  queued_bytes?: number;
  done_bytes?: number;
  failed_bytes?: number;
  edges?: Record<string, { planned_bytes?: number }>;
}

export interface CdnView {
  edges: Edge[];
  fill: { window?: { start_hour: number; end_hour: number }; last_run?: Record<string, unknown> | null; clusters?: FillCluster[] } | null;
  cdn_tier: { configured?: boolean; name?: string; base_url?: string; up?: boolean; [k: string]: unknown } | null;
  unavailable?: Unavailable[];
}

// --- metrics ---------------------------------------------------------------------------------

export interface SeriesLine {
  tags: Record<string, string>;
  points: [number, number][];
}

export interface MetricQuery {
  name: string;
  unavailable?: Unavailable[];
  step: number;
  start: number;
  end: number;
  series: SeriesLine[];
}
