// Plain formatting of times, prices and sizes for people.

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number): string => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

/** 5400 -> "1h 30m", 596 -> "10m". */
export function runtime(seconds: number | null | undefined): string {
  if (!seconds || seconds <= 0) return "";
  const minutes = Math.max(1, Math.round(seconds / 60));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `${m}m`;
  return m === 0 ? `${h}h` : `${h}h ${m}m`;
}

/** 1549, "USD" -> "$15.49". */
export function price(cents: number, currency: string): string {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

/** 720 -> "HD (720p)", 2160 -> "4K Ultra HD (2160p)". */
export function quality(height: number): string {
  if (height >= 2160) return `4K Ultra HD (${height}p)`;
  if (height >= 1080) return `Full HD (${height}p)`;
  if (height >= 720) return `HD (${height}p)`;
  return `SD (${height}p)`;
}

/** 3154340 -> "3.2 Mb/s". */
export function bitrate(bps: number): string {
  if (bps >= 1_000_000) return `${(bps / 1_000_000).toFixed(1)} Mb/s`;
  return `${Math.round(bps / 1000)} kb/s`;
}

/** An ISO date or epoch seconds as "24 Dec 2026". */
export function day(value: string | number): string {
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}
