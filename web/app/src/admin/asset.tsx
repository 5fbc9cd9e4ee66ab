// One packaged asset: the ladder (resolution, codec, bitrates, VMAF), the other tracks, the
// poster and the trickplay thumbnails.
import { Fragment } from "preact";
import type { JSX } from "preact";
import { usePoll } from "../common/poll";
import { bitrate, clock, fixed } from "../common/units";
import { get } from "./http";
import { Link } from "./router";
import type { Asset, AssetTrack } from "./types";
import { Empty, ErrorBanner, Loading, Page } from "./ui";

export interface Thumb {
  start: number;
  end: number;
  url: string; // the sprite sheet
  x: number;
  y: number;
  w: number;
  h: number;
}

function mediaUrl(key: string | null | undefined): string | null {
  if (!key) return null;
  if (key.startsWith("/") || /^https?:\/\//.test(key)) return key;
  return `/media/${key}`;
}

/** Where the poster, the trickplay index (WebVTT) and the sprite sheets are. */
export function pictures(asset: Asset): { poster: string | null; trickplay: string | null; sprites: string[] } {
  const t = asset.thumbnails;
  return {
    poster: t?.poster ?? asset.poster ?? mediaUrl(asset.poster_key),
    trickplay: t?.trickplay ?? mediaUrl(asset.trickplay_key),
    sprites: t?.sprites ?? [],
  };
}

function seconds(stamp: string): number {
  const parts = stamp.trim().split(":").map(Number);
  return parts.reduce((acc, p) => acc * 60 + p, 0);
}

/** The cues of a trickplay WebVTT index: `start --> end` then `sheet.jpg#xywh=x,y,w,h`. */
export function parseTrickplay(vtt: string, base: string): Thumb[] {
  const out: Thumb[] = [];
  const lines = vtt.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const m = /^\s*([\d:.]+)\s*-->\s*([\d:.]+)/.exec(lines[i] ?? "");
    if (!m) continue;
    const target = (lines[i + 1] ?? "").trim();
    const [file, frag] = target.split("#");
    if (!file) continue;
    const url = new URL(file, new URL(base, location.href)).toString();
    const xywh = /xywh=(\d+),(\d+),(\d+),(\d+)/.exec(frag ?? "");
    const [x, y, w, h] = xywh ? xywh.slice(1).map(Number) : [0, 0, 0, 0];
    out.push({ start: seconds(m[1] ?? "0"), end: seconds(m[2] ?? "0"), url, x: x ?? 0, y: y ?? 0, w: w ?? 0, h: h ?? 0 });
  }
  return out;
}

/** One trickplay thumbnail: a window onto its sprite sheet. */
export function ThumbImage({ thumb, scale = 1 }: { thumb: Thumb; scale?: number }): JSX.Element {
  if (!thumb.w || !thumb.h) return <img src={thumb.url} alt="" loading="lazy" />;
  return (
    <span
      class="thumb"
      role="img"
      aria-label={`frame at ${clock(thumb.start)}`}
      style={{
        width: `${thumb.w * scale}px`,
        height: `${thumb.h * scale}px`,
        backgroundImage: `url("${thumb.url}")`,
        backgroundPosition: `-${thumb.x * scale}px -${thumb.y * scale}px`,
        backgroundSize: scale === 1 ? undefined : "auto",
      }}
    />
  );
}

function Trickplay({ url }: { url: string }): JSX.Element {
  const cues = usePoll(
    async (signal) => {
      const r = await fetch(url, { signal, credentials: "same-origin" });
      if (!r.ok) throw new Error(`The trickplay index could not be read (HTTP ${r.status}).`);
      return parseTrickplay(await r.text(), url);
    },
    0,
    [url],
  );
  const all = cues.data ?? [];
  const count = 24;
  const shown = all.length <= count ? all : Array.from({ length: count }, (_, i) => all[Math.floor((i * (all.length - 1)) / (count - 1))]!);
  return (
    <div class="trickplay" data-testid="trickplay">
      <ErrorBanner error={cues.error} />
      {cues.data && all.length === 0 ? <Empty>The trickplay index has no thumbnails.</Empty> : null}
      {all.length > 0 ? (
        <p class="muted">
          {all.length} thumbnails, one every {fixed(all[0]!.end - all[0]!.start, 1)} s; {shown.length} shown.{" "}
          <a href={url} target="_blank" rel="noreferrer">
            WebVTT index
          </a>
        </p>
      ) : null}
      <div class="thumbs">
        {shown.map((t) => (
          <figure key={`${t.url}#${t.start}`}>
            <ThumbImage thumb={t} />
            <figcaption>{clock(t.start)}</figcaption>
          </figure>
        ))}
      </div>
    </div>
  );
}

function resolution(t: AssetTrack): string {
  const size = t.width && t.height ? `${t.width}×${t.height}` : t.height ? `${t.height}p` : "—";
  return t.frame_rate ? `${size} @ ${t.frame_rate} fps` : size;
}

export function AssetDetail({ id }: { id: string }): JSX.Element {
  const asset = usePoll((signal) => get<Asset>(`/api/assets/${encodeURIComponent(id)}`, signal), 0, [id]);
  const a = asset.data;
  const video = (a?.tracks ?? []).filter((t) => t.kind === "video").sort((x, y) => (x.height ?? 0) - (y.height ?? 0) || (x.average_bps ?? 0) - (y.average_bps ?? 0));
  const others = (a?.tracks ?? []).filter((t) => t.kind !== "video");
  const pics = a ? pictures(a) : null;
  return (
    <Page title={a ? `Asset: ${a.title || a.id}` : "Asset"} testid="asset-detail" actions={<Link href="/admin/jobs">Jobs</Link>}>
      <ErrorBanner error={asset.error} prefix="Could not load the asset" />
      {asset.loading ? <Loading what="the asset" /> : null}
      {a && pics ? (
        <>
          <div class="asset-head">
            {pics.poster ? <img class="poster" src={pics.poster} alt={`Poster of ${a.title}`} data-testid="asset-poster" /> : <div class="poster none">no poster</div>}
            <dl class="facts">
              <dt>Asset id</dt>
              <dd>
                <code>{a.id}</code>
              </dd>
              <dt>Duration</dt>
              <dd>{clock(a.duration)}</dd>
              <dt>Master</dt>
              <dd>{a.width && a.height ? `${a.width}×${a.height}` : "—"}</dd>
              <dt>Renditions</dt>
              <dd>{video.length}</dd>
              {a.dash_key ? (
                <>
                  <dt>DASH</dt>
                  <dd>
                    <a href={mediaUrl(a.dash_key) ?? "#"} target="_blank" rel="noreferrer">
                      manifest
                    </a>
                  </dd>
                </>
              ) : null}
              {a.hls_key ? (
                <>
                  <dt>HLS</dt>
                  <dd>
                    <a href={mediaUrl(a.hls_key) ?? "#"} target="_blank" rel="noreferrer">
                      playlist
                    </a>
                  </dd>
                </>
              ) : null}
            </dl>
          </div>
          <h2>Ladder</h2>
          {video.length === 0 ? <Empty>This asset has no video renditions.</Empty> : null}
          {video.length > 0 ? (
            <table class="grid ladder">
              <thead>
                <tr>
                  <th>Rendition</th>
                  <th>Resolution</th>
                  <th>Codec</th>
                  <th class="num">Target</th>
                  <th class="num">Average</th>
                  <th class="num">Peak</th>
                  <th class="num">VMAF mean</th>
                  <th class="num">VMAF min</th>
                </tr>
              </thead>
              <tbody>
                {video.map((t) => (
                  <tr key={t.name} data-testid="rendition-row" data-rendition={t.name} data-height={t.height ?? ""}>
                    <td>{t.name}</td>
                    <td>{resolution(t)}</td>
                    <td>
                      <code>{t.codecs ?? "—"}</code>
                    </td>
                    <td class="num">{t.target_kbps ? bitrate(t.target_kbps * 1000) : "—"}</td>
                    <td class="num" data-field="average_bps">
                      {bitrate(t.average_bps)}
                    </td>
                    <td class="num" data-field="peak_bps">
                      {bitrate(t.peak_bps)}
                    </td>
                    <td class="num" data-field="vmaf">
                      {fixed(t.vmaf, 1)}
                    </td>
                    <td class="num" data-field="vmaf_min">
                      {fixed(t.vmaf_min, 1)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {others.length > 0 ? (
            <>
              <h2>Audio and subtitles</h2>
              <table class="grid">
                <thead>
                  <tr>
                    <th>Track</th>
                    <th>Kind</th>
                    <th>Language</th>
                    <th>Codec</th>
                    <th class="num">Bitrate</th>
                  </tr>
                </thead>
                <tbody>
                  {others.map((t) => (
                    <tr key={`${t.kind}-${t.name}`} data-testid="track-row">
                      <td>{t.name}</td>
                      <td>{t.kind}</td>
                      <td>{t.language ?? "—"}</td>
                      <td>
                        <code>{t.codecs ?? "—"}</code>
                      </td>
                      <td class="num">{bitrate(t.average_bps)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          ) : null}
          <h2>Thumbnails</h2>
          {pics.trickplay ? <Trickplay url={pics.trickplay} /> : null}
          {pics.sprites.length > 0 ? (
            <p class="muted">
              Sprite sheets:{" "}
              {pics.sprites.map((u, i) => (
                <Fragment key={u}>
                  {i > 0 ? ", " : ""}
                  <a href={u} target="_blank" rel="noreferrer">
                    {u.split("/").pop()}
                  </a>
                </Fragment>
              ))}
            </p>
          ) : null}
          {!pics.trickplay ? <Empty>This asset has no trickplay thumbnails.</Empty> : null}
        </>
      ) : null}
    </Page>
  );
}
