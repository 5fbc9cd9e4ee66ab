"""The per-request check of a media server: token, then the rendition guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from matinee.clock import FakeClock
from matinee.delivery.access import RenditionGuard, SignedAccess
from matinee.delivery.errors import RenditionNotAllowed, TokenExpired, UnsafePath
from matinee.delivery.tokens import UrlSigner

MASTER = (Path(__file__).parent / "data" / "master.m3u8").read_text(encoding="utf-8")
PREFIX = "media/assets/a1/"


class Masters:
    """Master playlists by signed prefix, counting reads."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def __call__(self, prefix: str) -> str | None:
        self.reads.append(prefix)
        return MASTER if prefix == PREFIX else None


@pytest.fixture
def masters() -> Masters:
    return Masters()


@pytest.fixture
def access(masters: Masters) -> SignedAccess:
    return SignedAccess(UrlSigner(b"s" * 32, FakeClock()), RenditionGuard(masters))


def test_segments_of_renditions_above_the_cap_are_refused(access: SignedAccess) -> None:
    token, _ = access.signer.issue(PREFIX, 60, max_height=720)
    for allowed in (
        "master.m3u8",
        "manifest.mpd",
        "video/720p-4500k/00001.m4s",
        "video/234p-145k/init.mp4",
        "audio/fra-1/00001.m4s",
        "text/eng-0/index.m3u8",
        "trickplay/thumbs.vtt",
    ):
        assert access.check(token, PREFIX + allowed).max_height == 720
    for refused in ("video/1080p-6000k/00001.m4s", "video/1080p-7800k/index.m3u8"):
        with pytest.raises(RenditionNotAllowed, match="720 pixels"):
            access.check(token, PREFIX + refused)


def test_without_a_cap_everything_under_the_prefix_is_served(
    access: SignedAccess, masters: Masters
) -> None:
    token, _ = access.signer.issue(PREFIX, 60)
    access.check(token, PREFIX + "video/1080p-7800k/00001.m4s")
    assert masters.reads == []  # no cap, no need to know the renditions


def test_the_master_is_read_once_per_title(access: SignedAccess, masters: Masters) -> None:
    token, _ = access.signer.issue(PREFIX, 60, max_height=1080)
    for n in range(5):
        access.check(token, PREFIX + f"video/540p-2000k/0000{n}.m4s")
    other, _ = access.signer.issue("media/assets/b2/", 60, max_height=720)
    access.check(other, "media/assets/b2/video/1080p/00001.m4s")  # no master: not guarded
    access.check(other, "media/assets/b2/video/1080p/00002.m4s")
    assert masters.reads == [PREFIX, "media/assets/b2/"]


def test_the_guard_forgets_the_oldest_titles(masters: Masters) -> None:
    guard = RenditionGuard(masters, max_titles=2)
    for prefix in ("media/assets/x/", "media/assets/y/", PREFIX, "media/assets/x/"):
        guard.check(prefix, prefix + "video/a/1.m4s", 720)
    assert masters.reads == ["media/assets/x/", "media/assets/y/", PREFIX, "media/assets/x/"]


def test_token_errors_come_first(access: SignedAccess) -> None:
    token, _ = access.signer.issue(PREFIX, 60, max_height=720)
    with pytest.raises(UnsafePath):
        access.check(token, PREFIX + "../b2/video/1080p/1.m4s")
    access.signer.clock.advance(60)  # type: ignore[attr-defined]
    with pytest.raises(TokenExpired):
        access.check(token, PREFIX + "video/1080p-6000k/00001.m4s")
