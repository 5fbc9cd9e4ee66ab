"""Manifests cut down to the renditions a viewer may watch.

A plan caps the picture height (720p, 1080p, 2160p), so the origin rewrites the two manifests
of a title for each token's cap and keeps them valid:

* HLS master playlist: every ``#EXT-X-STREAM-INF`` taller than the cap goes, with its URI line,
  and every ``#EXT-X-I-FRAME-STREAM-INF`` taller than the cap; ``#EXT-X-MEDIA`` (audio,
  subtitles) and every other line stay as they are;
* DASH MPD: every video ``Representation`` taller than the cap goes; a video ``AdaptationSet``
  left without one goes too, and the ``maxWidth``/``maxHeight``/``maxBandwidth`` of the others
  shrink to what is left. Audio, text and image (thumbnail) sets stay.

A rendition whose height is not stated is kept. When a cap removes every video rendition,
:class:`NoRenditionAllowed` is raised: a manifest with nothing to play is not valid.

:func:`rendition_dirs` maps each video rendition's folder to its height, so a server can refuse
segments of renditions the filtered manifests no longer list.
"""

from __future__ import annotations

import posixpath
import re
from xml.dom import minidom
from xml.dom.minidom import Element, Node, Text
from xml.parsers.expat import ExpatError

from matinee.delivery.errors import DeliveryError, NoRenditionAllowed

STREAM_INF = "#EXT-X-STREAM-INF:"
IFRAME_INF = "#EXT-X-I-FRAME-STREAM-INF:"
MEDIA_TAG = "#EXT-X-MEDIA:"
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^",]*)')
_RESOLUTION = re.compile(r"^(\d+)x(\d+)$")


class ManifestUnreadable(DeliveryError):
    """A stored manifest could not be parsed."""


def _attributes(line: str) -> dict[str, str]:
    """The attribute list of an HLS tag line, quotes removed."""
    return {k: v.strip('"') for k, v in _ATTRIBUTE.findall(line.split(":", 1)[1])}


def _height(attributes: dict[str, str]) -> int | None:
    match = _RESOLUTION.match(attributes.get("RESOLUTION", ""))
    return int(match.group(2)) if match else None


def _too_tall(line: str, max_height: int) -> bool:
    height = _height(_attributes(line))
    return height is not None and height > max_height


def filter_hls_master(text: str, max_height: int) -> str:
    """The master playlist ``text`` without variants taller than ``max_height``."""
    out: list[str] = []
    variants = kept = 0
    skipping = False  # inside a dropped variant: until (and including) its URI line
    for line in text.splitlines():
        stripped = line.strip()
        if skipping:
            if stripped and not stripped.startswith("#"):
                skipping = False
            continue
        if stripped.startswith(STREAM_INF):
            variants += 1
            if _too_tall(stripped, max_height):
                skipping = True
                continue
            kept += 1
        elif stripped.startswith(IFRAME_INF) and _too_tall(stripped, max_height):
            continue
        out.append(line)
    if variants and not kept:
        raise NoRenditionAllowed(f"This title has no version {max_height} pixels tall or less.")
    return "\n".join(out) + "\n"


# --- DASH -------------------------------------------------------------------------------------


def _children(node: Node, name: str) -> list[Element]:
    return [
        c
        for c in node.childNodes
        if isinstance(c, Element) and (c.localName or c.tagName.rsplit(":", 1)[-1]) == name
    ]


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _remove(node: Element) -> None:
    """Take ``node`` out of its parent, with the indentation in front of it."""
    parent = node.parentNode
    if not isinstance(parent, Element):
        return
    before = node.previousSibling
    if isinstance(before, Text) and not before.data.strip():
        parent.removeChild(before)
    parent.removeChild(node)


def _is_video(adaptation_set: Element) -> bool:
    if adaptation_set.getAttribute("contentType") == "video":
        return True
    if adaptation_set.getAttribute("mimeType").startswith("video/"):
        return True
    reps = _children(adaptation_set, "Representation")
    return any(r.getAttribute("mimeType").startswith("video/") for r in reps)


_MAXIMA = {"maxWidth": "width", "maxHeight": "height", "maxBandwidth": "bandwidth"}


def _shrink_maxima(adaptation_set: Element, kept: list[Element]) -> None:
    for limit, attribute in _MAXIMA.items():
        if not adaptation_set.hasAttribute(limit):
            continue
        values = [_int(r.getAttribute(attribute)) for r in kept]
        if kept and all(v is not None for v in values):
            adaptation_set.setAttribute(limit, str(max(v for v in values if v is not None)))


def _filter_set(adaptation_set: Element, max_height: int) -> tuple[int, int]:
    """Drop the set's Representations taller than the cap; (how many there were, kept)."""
    set_height = _int(adaptation_set.getAttribute("height"))
    reps = _children(adaptation_set, "Representation")
    kept: list[Element] = []
    for rep in reps:
        height = _int(rep.getAttribute("height")) or set_height
        if height is not None and height > max_height:
            _remove(rep)
        else:
            kept.append(rep)
    if reps and not kept:
        _remove(adaptation_set)
    else:
        _shrink_maxima(adaptation_set, kept)
    return len(reps), len(kept)


def filter_mpd(text: str, max_height: int) -> str:
    """The MPD ``text`` without video Representations taller than ``max_height``."""
    try:
        # Our own packager's output from our own object store, not a stranger's upload.
        doc = minidom.parseString(text)  # noqa: S318
    except ExpatError as exc:
        raise ManifestUnreadable(f"The stored DASH manifest is not valid XML: {exc}") from exc
    root = doc.documentElement
    if root is None:
        raise ManifestUnreadable("The stored DASH manifest is empty.")
    videos = kept = 0
    for period in _children(root, "Period"):
        for adaptation_set in _children(period, "AdaptationSet"):
            if _is_video(adaptation_set):
                total, left = _filter_set(adaptation_set, max_height)
                videos, kept = videos + total, kept + left
    if videos and not kept:
        raise NoRenditionAllowed(f"This title has no version {max_height} pixels tall or less.")
    return doc.toxml(encoding="UTF-8").decode("utf-8")


# --- dispatch and rendition folders -----------------------------------------------------------


def is_filtered(key: str, body: bytes) -> bool:
    """Whether the object at ``key`` is a manifest that lists renditions (an MPD, or an HLS
    master playlist; media playlists and segments pass through untouched)."""
    if key.endswith(".mpd"):
        return True
    return key.endswith(".m3u8") and (STREAM_INF.encode() in body or IFRAME_INF.encode() in body)


def filter_manifest(key: str, body: bytes, max_height: int) -> bytes:
    """``body`` (the object at ``key``) cut to renditions up to ``max_height``; objects that
    are not rendition-listing manifests come back unchanged."""
    if not is_filtered(key, body):
        return body
    text = body.decode("utf-8")
    if key.endswith(".mpd"):
        return filter_mpd(text, max_height).encode("utf-8")
    return filter_hls_master(text, max_height).encode("utf-8")


def _uri_dir(uri: str) -> str | None:
    if not uri or "://" in uri or uri.startswith("/"):
        return None
    return posixpath.dirname(uri)


def rendition_dirs(master: str) -> dict[str, int]:
    """Folder (relative to the master playlist) -> height of the video renditions kept there.

    A folder holding several renditions maps to the shortest of them, and a folder that also
    holds an ``#EXT-X-MEDIA`` rendition (audio, subtitles) or the master itself is left out, so
    refusing a folder taller than a cap never refuses anything the filtered manifest lists."""
    heights: dict[str, int] = {}
    shared: set[str] = {""}
    pending: int | None = None  # the height of a STREAM-INF waiting for its URI line
    for raw in master.splitlines():
        line = raw.strip()
        if line.startswith(STREAM_INF):
            pending = _height(_attributes(line)) or 0
            continue
        if line.startswith((IFRAME_INF, MEDIA_TAG)):
            attributes = _attributes(line)
            folder = _uri_dir(attributes.get("URI", ""))
            height = _height(attributes)
            if folder is None:
                continue
            if line.startswith(MEDIA_TAG) or height is None:
                shared.add(folder)
            else:
                heights[folder] = min(height, heights.get(folder, height))
            continue
        if pending is not None and line and not line.startswith("#"):
            folder = _uri_dir(line)
            if folder is not None and pending:
                heights[folder] = min(pending, heights.get(folder, pending))
            elif folder is not None:
                shared.add(folder)
            pending = None
    return {folder: h for folder, h in heights.items() if folder not in shared}
