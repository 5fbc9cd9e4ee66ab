// Trickplay thumbnails for the seek bar. The media pipeline (src/matinee/media/thumbs.py)
// writes sprite sheets of 10x10 thumbnails and a WebVTT index, thumbs.vtt, whose cues point at
// a tile with a media fragment: "sprite_0001.jpg#xywh=160,0,160,90".

export interface Thumb {
  start: number;
  end: number;
  url: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

function seconds(stamp: string): number {
  const parts = stamp.trim().split(":").map(Number);
  if (parts.some((p) => Number.isNaN(p))) return NaN;
  return parts.reduce((total, part) => total * 60 + part, 0);
}

/** The cues of a trickplay WebVTT index, with sheet URLs resolved against `base`. */
export function parseTrickplay(text: string, base: string): Thumb[] {
  const thumbs: Thumb[] = [];
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const arrow = line.indexOf("-->");
    if (arrow < 0) continue;
    const start = seconds(line.slice(0, arrow));
    const end = seconds(line.slice(arrow + 3).trim().split(/\s+/)[0] ?? "");
    const target = (lines[i + 1] ?? "").trim();
    if (!target || Number.isNaN(start) || Number.isNaN(end)) continue;
    const [file, fragment] = target.split("#");
    const xywh = /xywh=(?:pixel:)?(\d+),(\d+),(\d+),(\d+)/.exec(fragment ?? "");
    let url: string;
    try {
      url = new URL(file!, base).toString();
    } catch {
      continue;
    }
    thumbs.push({
      start,
      end,
      url,
      x: xywh ? Number(xywh[1]) : 0,
      y: xywh ? Number(xywh[2]) : 0,
      w: xywh ? Number(xywh[3]) : 160,
      h: xywh ? Number(xywh[4]) : 90,
    });
  }
  return thumbs.sort((a, b) => a.start - b.start);
}

/** The thumbnail shown at `time` (binary search over the sorted cues). */
export function thumbAt(thumbs: Thumb[], time: number): Thumb | null {
  if (thumbs.length === 0) return null;
  let lo = 0;
  let hi = thumbs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (thumbs[mid]!.start <= time) lo = mid;
    else hi = mid - 1;
  }
  return thumbs[lo]!;
}

const warmed = new Set<string>();

/** Start fetching a sprite sheet (once), so the preview shows it as soon as it can. */
export function warm(url: string): void {
  if (warmed.has(url)) return;
  warmed.add(url);
  const img = new Image();
  img.decoding = "async";
  img.src = url;
}

/** Fetch and parse a trickplay index (the player asks once the video is playing, so the
 * sheets never compete with the first segments). */
export async function loadTrickplay(url: string, signal?: AbortSignal): Promise<Thumb[]> {
  const absolute = new URL(url, window.location.href).toString();
  const response = await fetch(absolute, { signal, credentials: "same-origin" });
  if (!response.ok) throw new Error(`trickplay index: HTTP ${response.status}`);
  return parseTrickplay(await response.text(), absolute);
}
