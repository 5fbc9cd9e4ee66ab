"""Packaging without the packager: bitrate measurement from a playlist and its segment files,
the stream descriptors handed to Shaka Packager, and reading CODECS back from a master."""

from __future__ import annotations

from pathlib import Path

import pytest

from matinee.media.package import PackageInput, _master_codecs, descriptors, measure_playlist

INIT_BYTES = 5_000  # never counted: it is not media


def write_track(folder: Path, segments: list[tuple[float, int]], *, title: str = "") -> Path:
    """A VOD media playlist with an init segment and fake media segments of the given
    (duration, size) shapes; returns the playlist's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "init.mp4").write_bytes(b"\0" * INIT_BYTES)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        '#EXT-X-MAP:URI="init.mp4"',
    ]
    for n, (duration, size) in enumerate(segments, start=1):
        name = f"{n:05d}.m4s"
        (folder / name).write_bytes(b"\0" * size)
        lines += [f"#EXTINF:{duration:.3f},{title}", name]
    lines.append("#EXT-X-ENDLIST")
    playlist = folder / "index.m3u8"
    playlist.write_text("\n".join(lines) + "\n")
    return playlist


# --- measure_playlist ------------------------------------------------------------------------


def test_peak_is_the_largest_segment_bitrate_and_average_is_bytes_over_time(
    tmp_path: Path,
) -> None:
    playlist = write_track(
        tmp_path / "video" / "360p-365k",
        [(2.0, 50_000), (2.0, 100_000), (1.0, 30_000)],
    )
    peak, average = measure_playlist(playlist)
    assert peak == 100_000 * 8 / 2.0  # 400 kb/s, the second segment
    assert average == (50_000 + 100_000 + 30_000) * 8 / 5.0  # 288 kb/s


def test_a_short_dense_segment_sets_the_peak(tmp_path: Path) -> None:
    # 24 kB over 0.5 s is 384 kb/s, denser than 80 kB over 2 s (320 kb/s).
    playlist = write_track(tmp_path, [(2.0, 80_000), (0.5, 24_000)])
    peak, average = measure_playlist(playlist)
    assert peak == 384_000
    assert average == round(104_000 * 8 / 2.5)


def test_segment_titles_are_ignored(tmp_path: Path) -> None:
    playlist = write_track(tmp_path, [(4.0, 40_000), (4.0, 20_000)], title="Chapter 1")
    assert measure_playlist(playlist) == (80_000, 60_000)


def test_results_are_whole_bits_per_second(tmp_path: Path) -> None:
    playlist = write_track(tmp_path, [(3.0, 1_000)])  # 2666.67 b/s
    assert measure_playlist(playlist) == (2667, 2667)


def test_a_playlist_without_segments_measures_zero(tmp_path: Path) -> None:
    playlist = write_track(tmp_path, [])
    assert measure_playlist(playlist) == (0, 0)


def test_a_missing_segment_file_is_an_error(tmp_path: Path) -> None:
    playlist = write_track(tmp_path, [(2.0, 1_000), (2.0, 1_000)])
    (tmp_path / "00002.m4s").unlink()
    with pytest.raises(FileNotFoundError):
        measure_playlist(playlist)


# --- stream descriptors ----------------------------------------------------------------------


def test_video_descriptor() -> None:
    item = PackageInput("video", "720p-3000k", Path("/w/video/720p-3000k.mp4"))
    assert descriptors(item) == [
        "in=/w/video/720p-3000k.mp4,stream=video,"
        "init_segment=video/720p-3000k/init.mp4,"
        "segment_template=video/720p-3000k/$Number%05d$.m4s,"
        "playlist_name=video/720p-3000k/index.m3u8"
    ]


def test_audio_descriptor_names_its_language_and_group() -> None:
    item = PackageInput("audio", "fra-1", Path("/w/audio/fra-1.mp4"), "fra")
    assert descriptors(item) == [
        "in=/w/audio/fra-1.mp4,stream=audio,"
        "init_segment=audio/fra-1/init.mp4,"
        "segment_template=audio/fra-1/$Number%05d$.m4s,"
        "playlist_name=audio/fra-1/index.m3u8,"
        "language=fra,hls_group_id=audio,hls_name=Français"
    ]


def test_subtitles_are_webvtt_text_for_hls_and_wvtt_in_mp4_for_dash() -> None:
    item = PackageInput("text", "eng-0", Path("/w/text/eng-0.vtt"), "eng")
    hls, dash = descriptors(item)
    labels = "language=eng,hls_group_id=subs,hls_name=English"
    assert hls == (
        f"in=/w/text/eng-0.vtt,stream=text,{labels},"
        "segment_template=text/eng-0/$Number%05d$.vtt,"
        "playlist_name=text/eng-0/index.m3u8,hls_only=1"
    )
    assert dash == (
        f"in=/w/text/eng-0.vtt,stream=text,{labels},format=mp4,"
        "init_segment=text/eng-0/init.mp4,"
        "segment_template=text/eng-0/$Number%05d$.m4s,dash_only=1"
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [(None, "index.m3u8,hls_group_id=audio,hls_name=Unknown"),
     ("und", "index.m3u8,hls_group_id=audio,hls_name=Unknown"),
     ("tlh", "language=tlh,hls_group_id=audio,hls_name=tlh"),
     ("jpn", "language=jpn,hls_group_id=audio,hls_name=日本語")],
)  # fmt: skip
def test_audio_labels_for_untagged_and_unlisted_languages(
    language: str | None, expected: str
) -> None:
    (descriptor,) = descriptors(PackageInput("audio", "a", Path("/w/a.mp4"), language))
    assert descriptor.endswith(expected)


# --- CODECS from the master playlist ---------------------------------------------------------


def test_codecs_are_read_per_playlist_from_the_master(tmp_path: Path) -> None:
    master = tmp_path / "master.m3u8"
    master.write_text(
        "#EXTM3U\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,URI="audio/eng-0/index.m3u8",GROUP-ID="audio",'
        'LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2"\n'
        '#EXT-X-MEDIA:TYPE=SUBTITLES,URI="text/eng-0/index.m3u8",GROUP-ID="subs",'
        'LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=YES\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=600000,CODECS="avc1.64001e,mp4a.40.2",'
        'RESOLUTION=640x360,AUDIO="audio",SUBTITLES="subs"\n'
        "video/360p-365k/index.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=300000,CODECS="avc1.64000d,mp4a.40.2",'
        'RESOLUTION=416x234,AUDIO="audio",SUBTITLES="subs"\n'
        "video/234p-145k/index.m3u8\n"
    )
    assert _master_codecs(master) == {
        "video/360p-365k/index.m3u8": "avc1.64001e",
        "video/234p-145k/index.m3u8": "avc1.64000d",
        "audio/eng-0/index.m3u8": "mp4a.40.2",
        "text/eng-0/index.m3u8": "wvtt",
    }
