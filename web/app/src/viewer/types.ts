// The shapes of the API answers the viewer reads (see each service's schemas.py).

// identity
export interface Profile {
  id: string;
  account_id: string;
  name: string;
  avatar: string;
  language: string;
  maturity_level: number;
  kids: boolean;
}

export interface Me {
  id: string;
  email: string;
  country: string;
  roles: string[];
  created_at: string;
  session_id: string;
  expires_at: number;
  profile: Profile | null;
}

export interface Session {
  token: string;
  expires_at: number;
  account_id: string;
  profile_id: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

// billing
export type PlanCode = "basic" | "standard" | "premium";

export interface Plan {
  code: PlanCode;
  name: string;
  max_streams: number;
  max_height: number;
  price_cents: number;
  currency: string;
}

export interface Subscription {
  id: string;
  status: "trialing" | "active" | "past_due" | "canceled";
  plan: Plan;
  pending_plan: PlanCode | null;
  card: { brand: string; last4: string; exp_month: number; exp_year: number };
  current_period_start: string;
  current_period_end: string;
  trial_end: string | null;
  cancel_at_period_end: boolean;
  canceled_at: string | null;
  past_due_since: string | null;
  next_retry_at: string | null;
  created_at: string;
}

// catalog
export interface Artwork {
  poster: string | null;
  trickplay: string | null;
}

export interface Genre {
  slug: string;
  name: string;
}

export interface TitleSummary {
  id: string;
  kind: "movie" | "series" | "episode";
  name: string;
  synopsis: string;
  maturity: number;
  release_year: number;
  runtime_s: number | null;
  genres: Genre[];
  artwork: Artwork;
  playable: boolean;
}

export interface Episode {
  id: string;
  season: number;
  episode: number;
  name: string;
  synopsis: string;
  maturity: number;
  runtime_s: number | null;
  artwork: Artwork;
  playable: boolean;
}

export interface Season {
  season: number;
  episodes: Episode[];
}

export interface TitleDetail extends TitleSummary {
  cast: { name: string; role: string; character: string | null }[];
  max_height: number | null;
  series_id: string | null;
  season: number | null;
  episode: number | null;
  seasons: Season[] | null;
}

export interface SearchPage extends Page<TitleSummary> {
  matched: string[][];
}

// homepage
export interface Card {
  id: string;
  kind: "movie" | "series" | "episode";
  name: string;
  maturity: number;
  artwork: Artwork;
  genres: Genre[];
  progress: number | null;
  position_s: number | null;
  series_id: string | null;
  series_name: string | null;
  season: number | null;
  episode: number | null;
}

export interface Row {
  id: string;
  kind: "continue_watching" | "because_you_watched" | "new" | "popular" | "genre";
  title: string;
  items: Card[];
}

export interface HomePage {
  profile_id: string;
  country: string;
  maturity_level: number;
  generated_at: number;
  degraded: string[];
  rows: Row[];
}

// playback
export interface Rendition {
  name: string;
  width: number | null;
  height: number;
  average_bps: number | null;
  codecs: string | null;
}

export interface DeliveryHost {
  name: string;
  base_url: string;
}

export interface PlaybackStart {
  lease_id: string;
  lease_expires_at: string;
  heartbeat_interval_s: number;
  title_id: string;
  asset_id: string;
  max_height: number;
  renditions: Rendition[];
  manifests: { dash: string; hls: string };
  urls_expire_at: string;
  urls_valid_s: number;
  delivery: DeliveryHost[];
}

export interface PlaybackRefresh {
  lease_id: string;
  lease_expires_at: string;
  max_height: number;
  manifests: { dash: string; hls: string };
  urls_expire_at: string;
  urls_valid_s: number;
}

export interface Heartbeat {
  lease_id: string;
  lease_expires_at: string;
  heartbeat_interval_s: number;
}

// history
export interface Bookmark {
  title_id: string;
  position_s: number;
  duration_s: number;
  finished: boolean;
  watched_at: number;
}

export interface ContinueItem {
  title_id: string;
  kind: "resume" | "next_episode";
  position_s: number;
  duration_s: number | null;
  progress: number;
  watched_at: number;
  after_title_id: string | null;
}

export interface ViewingEvent {
  event_id: string;
  kind: "start" | "heartbeat" | "stop";
  title_id: string;
  position_s: number;
  duration_s: number;
  rendition: string;
  bitrate: number;
  buffer_s: number;
  rebuffers: number;
  device: string;
  client_ts: number;
  finished: boolean;
}
