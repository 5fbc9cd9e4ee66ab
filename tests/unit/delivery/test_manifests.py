"""Manifests cut to a height cap, on real manifests written by matinee's pipeline.

``data/master.m3u8`` and ``data/manifest.mpd`` are the package of a 2 s 1920x1080 master with
English and French audio and English (SRT) and French (WebVTT) sidecar subtitles, ingested
with the default ladder (234p to 1080p, nine rungs) by ``matinee.testing.pipeline.ingest``
(ultrafast x264, 2 s segments; Shaka Packager v3.8.0), copied here unchanged.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from matinee.delivery.errors import NoRenditionAllowed
from matinee.delivery.manifests import (
    ManifestUnreadable,
    filter_hls_master,
    filter_manifest,
    filter_mpd,
    is_filtered,
    rendition_dirs,
)

DATA = Path(__file__).parent / "data"
MASTER = (DATA / "master.m3u8").read_text(encoding="utf-8")
MPD = (DATA / "manifest.mpd").read_text(encoding="utf-8")
NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}
ALL_HEIGHTS = [234, 360, 432, 432, 540, 720, 720, 1080, 1080]


# --- HLS --------------------------------------------------------------------------------------


def variants(text: str) -> list[tuple[int, str]]:
    """(height, URI) of every variant; asserts each tag is followed by its URI line."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            resolution = line.split("RESOLUTION=", 1)[1].split(",", 1)[0]
            uri = lines[i + 1]
            assert uri, f"variant without a URI line at {i}"
            assert not uri.startswith("#"), f"variant without a URI line at {i}"
            found.append((int(resolution.split("x")[1]), uri))
    return found


def media_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("#EXT-X-MEDIA:")]


def test_the_captured_master_lists_the_whole_ladder() -> None:
    assert [h for h, _ in variants(MASTER)] == ALL_HEIGHTS
    assert len(media_lines(MASTER)) == 4  # two audio, two subtitle renditions


@pytest.mark.parametrize(("cap", "kept"), [(720, 7), (1080, 9), (2160, 9), (540, 5), (234, 1)])
def test_hls_keeps_variants_up_to_the_cap(cap: int, kept: int) -> None:
    out = filter_hls_master(MASTER, cap)
    heights = [h for h, _ in variants(out)]
    assert heights == [h for h in ALL_HEIGHTS if h <= cap]
    assert len(heights) == kept
    assert media_lines(out) == media_lines(MASTER)
    assert out.startswith("#EXTM3U\n")
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in out
    dropped = {uri for h, uri in variants(MASTER) if h > cap}
    assert not any(uri in out for uri in dropped)


def test_hls_without_any_variant_under_the_cap_is_refused() -> None:
    with pytest.raises(NoRenditionAllowed, match="144 pixels"):
        filter_hls_master(MASTER, 144)


IFRAMES = (
    '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,RESOLUTION=1280x720,URI="video/720p/iframes.m3u8"\n'
    '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=30000,RESOLUTION=640x360,URI="video/360p/iframes.m3u8"\n'
)


def test_hls_drops_iframe_playlists_above_the_cap() -> None:
    out = filter_hls_master(MASTER + IFRAMES, 540)
    assert "video/360p/iframes.m3u8" in out
    assert "video/720p/iframes.m3u8" not in out


def test_hls_keeps_a_variant_whose_height_is_unknown() -> None:
    text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\n\naudio-only.m3u8\n"
    assert filter_hls_master(text, 240) == text


def test_a_dropped_variant_takes_its_uri_line_even_after_blank_lines() -> None:
    text = (
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1920x1080\n\nbig.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\nsmall.m3u8\n"
    )
    out = filter_hls_master(text, 720)
    assert "big.m3u8" not in out
    assert out.endswith("#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\nsmall.m3u8\n")


# --- DASH -------------------------------------------------------------------------------------


def adaptation_sets(text: str) -> list[ET.Element]:
    root = ET.fromstring(text)  # noqa: S314 - our own test data
    assert root.tag == "{urn:mpeg:dash:schema:mpd:2011}MPD"
    return list(root.iterfind("mpd:Period/mpd:AdaptationSet", NS))


def video_heights(text: str) -> list[int]:
    sets = [a for a in adaptation_sets(text) if a.get("contentType") == "video"]
    return [int(r.get("height", "0")) for a in sets for r in a.iterfind("mpd:Representation", NS)]


@pytest.mark.parametrize("cap", [720, 1080, 2160, 540, 234])
def test_dash_keeps_representations_up_to_the_cap(cap: int) -> None:
    out = filter_mpd(MPD, cap)
    assert video_heights(out) == [h for h in ALL_HEIGHTS if h <= cap]
    before = [(a.get("contentType"), a.get("lang")) for a in adaptation_sets(MPD)]
    after = [(a.get("contentType"), a.get("lang")) for a in adaptation_sets(out)]
    assert after == before  # audio and both subtitle sets stay, in order
    video = adaptation_sets(out)[0]
    assert video.get("maxHeight") == str(min(cap, 1080))
    widths = {234: "416", 540: "960", 720: "1280"}
    assert video.get("maxWidth") == widths.get(cap, "1920")
    # Every kept Representation still has its segment template, and nothing else changed.
    for rep in video.iterfind("mpd:Representation", NS):
        assert rep.find("mpd:SegmentTemplate/mpd:SegmentTimeline/mpd:S", NS) is not None
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "xmlns:xsi=" in out
    assert 'mediaPresentationDuration="PT2S"' in out


def test_dash_drops_a_video_set_left_empty_but_keeps_the_rest() -> None:
    mpd = MPD.replace(
        "</Period>",
        '  <AdaptationSet id="9" contentType="video" maxHeight="2160">'
        '<Representation id="99" bandwidth="1" width="3840" height="2160" mimeType="video/mp4"/>'
        "</AdaptationSet>\n  </Period>",
    )
    out = filter_mpd(mpd, 1080)
    assert [a.get("id") for a in adaptation_sets(out)] == ["0", "3", "2", "4", "1"]
    assert video_heights(out) == ALL_HEIGHTS


def test_dash_keeps_image_sets_and_uses_the_set_height() -> None:
    mpd = (
        '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period>'
        '<AdaptationSet contentType="image" mimeType="image/jpeg">'
        '<Representation id="t" bandwidth="1" width="3200" height="1800"/></AdaptationSet>'
        '<AdaptationSet mimeType="video/mp4" height="1080">'
        '<Representation id="a" bandwidth="1"/></AdaptationSet>'
        '<AdaptationSet mimeType="video/mp4">'
        '<Representation id="b" bandwidth="1" height="360"/></AdaptationSet>'
        "</Period></MPD>"
    )
    out = filter_mpd(mpd, 720)
    ids = [r.get("id") for a in adaptation_sets(out) for r in a.iterfind("mpd:Representation", NS)]
    assert ids == ["t", "b"]


def test_dash_without_any_representation_under_the_cap_is_refused() -> None:
    with pytest.raises(NoRenditionAllowed):
        filter_mpd(MPD, 200)


def test_a_broken_mpd_is_reported() -> None:
    with pytest.raises(ManifestUnreadable):
        filter_mpd("<MPD><Period>", 720)


# --- dispatch and rendition folders -----------------------------------------------------------


def test_only_rendition_listing_manifests_are_filtered() -> None:
    media_playlist = b"#EXTM3U\n#EXTINF:2.0,\n00001.m4s\n#EXT-X-ENDLIST\n"
    assert is_filtered("assets/x/manifest.mpd", MPD.encode())
    assert is_filtered("assets/x/master.m3u8", MASTER.encode())
    assert not is_filtered("assets/x/video/720p-3000k/index.m3u8", media_playlist)
    assert not is_filtered("assets/x/video/720p-3000k/00001.m4s", b"\0\0")
    assert filter_manifest("assets/x/a/index.m3u8", media_playlist, 240) == media_playlist
    assert b"1080p-6000k" not in filter_manifest("assets/x/master.m3u8", MASTER.encode(), 720)
    assert b"1080p-6000k" not in filter_manifest("assets/x/manifest.mpd", MPD.encode(), 720)


def test_rendition_folders_come_from_the_master() -> None:
    assert rendition_dirs(MASTER) == {
        "video/234p-145k": 234,
        "video/360p-365k": 360,
        "video/432p-730k": 432,
        "video/432p-1100k": 432,
        "video/540p-2000k": 540,
        "video/720p-3000k": 720,
        "video/720p-4500k": 720,
        "video/1080p-6000k": 1080,
        "video/1080p-7800k": 1080,
    }
    assert rendition_dirs(MASTER + IFRAMES)["video/720p"] == 720


def test_shared_folders_are_never_guarded() -> None:
    # The players' harness packages every track beside the master: nothing can be refused
    # by folder there; and a folder holding two renditions counts as the shorter one.
    flat = (
        "#EXTM3U\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,URI="audio.m3u8",GROUP-ID="a",NAME="en"\n'
        "#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\nvideo_360.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1920x1080\nv/1080.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\nv/360.m3u8\n"
        '#EXT-X-MEDIA:TYPE=SUBTITLES,URI="subs/x.m3u8",GROUP-ID="s",NAME="en"\n'
        "#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1920x1080\nsubs/v.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1\nunknown/v.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1920x1080\nhttps://cdn.example/v.m3u8\n"
    )
    assert rendition_dirs(flat) == {"v": 360}
