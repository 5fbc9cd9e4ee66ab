"""The pure part of the fill: a title's files as renditions, the demand shape, and which edge
of a cluster gets which file.

**Renditions.** An asset's objects are grouped by folder: ``video/<rung>/`` and
``audio/<lang>/`` hold an init segment and numbered media segments (in playback order, so the
planner's position bins are positions in the title); ``text/`` and ``trickplay/`` likewise;
manifests (``.m3u8``, ``.mpd``) and top-level files (poster) form the group ``""``, which every
play needs first. Keys are the edges' keys: ``media/`` + the object key.

**Demand shape** (``cdn.popularity.DemandShape``): every play fetches the manifests and one
audio track, so ``""`` and ``audio/*`` weigh 1; a play watches one video rendition at a time,
so each of the ``n`` video renditions weighs ``1/n``; subtitles and trickplay 0.3 x 1/n. The
head of a title is asked for more than its tail (viewers stop watching): bin ``b`` of ``B``
weighs ``1 - b / (2B)``.

**Placement.** The files planned for a cluster are spread over its edges by rendezvous
hashing (each key goes to the edge with the highest hash of edge id and key that still has
room): the same file lands on the same edge from one run to the next, and losing an edge moves
only its files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from matinee.cdn.popularity import DemandShape, Rendition, TitleMedia

MEDIA = "media/"
TOP = ""  # the group of manifests and top-level files
MANIFESTS = (".m3u8", ".mpd")
AUX_SHARE = 0.3


def _position(name: str) -> int:
    stem = PurePosixPath(name).stem
    if stem == "init":
        return -1
    return int(stem) if stem.isdigit() else 1 << 30


def title_media(title_id: str, objects: Iterable[tuple[str, int]]) -> TitleMedia[str]:
    """The title's files as renditions of edge keys (``media/assets/<id>/...``)."""
    groups: dict[str, list[tuple[int, str, str, int]]] = {}
    for key, size in objects:
        path = PurePosixPath(key)
        parts = path.parts
        # assets/<id>/<group...>/<file>: the group is the folder under the asset's prefix.
        inner = parts[2:-1] if len(parts) > 3 else ()
        group = TOP if path.suffix in MANIFESTS or not inner else "/".join(inner)
        groups.setdefault(group, []).append((_position(path.name), path.name, key, size))
    renditions = []
    for name in sorted(groups):
        files = sorted(groups[name])
        keys = [MEDIA + f[2] for f in files]
        renditions.append(Rendition(name, keys, [f[3] for f in files]))
    return TitleMedia(title_id, tuple(renditions))


def demand_shape(media: Iterable[TitleMedia[str]], bins: int) -> DemandShape:
    """The shape described in the module docstring, over every rendition name in ``media``."""
    names = {r.name for title in media for r in title.renditions}
    video = sorted(n for n in names if n.startswith("video/"))
    per_video = 1.0 / len(video) if video else 1.0
    share: dict[str, float] = {}
    for name in names:
        if name == TOP or name.startswith("audio/"):
            share[name] = 1.0
        elif name.startswith("video/"):
            share[name] = per_video
        else:
            share[name] = AUX_SHARE * per_video
    weights = tuple(1.0 - b / (2 * bins) for b in range(bins))
    return DemandShape(share, weights)


def _weight(edge_id: str, key: str) -> int:
    digest = hashlib.blake2b(f"{edge_id}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass
class Placement:
    """Which edge of a cluster holds which planned file; files no edge had room for."""

    by_edge: dict[str, dict[str, int]] = field(default_factory=dict)
    unplaced: dict[str, int] = field(default_factory=dict)

    def bytes_on(self, edge_id: str) -> int:
        return sum(self.by_edge.get(edge_id, {}).values())

    def prefix_bytes(self, edge_id: str) -> dict[str, int]:
        """Planned bytes per asset prefix (``media/assets/<id>/``) on one edge."""
        out: dict[str, int] = {}
        for key, size in self.by_edge.get(edge_id, {}).items():
            prefix = asset_prefix(key)
            out[prefix] = out.get(prefix, 0) + size
        return out


def asset_prefix(key: str) -> str:
    """``media/assets/<id>/`` of an edge key."""
    parts = key.split("/", 3)
    return "/".join(parts[:3]) + "/"


def place(files: Mapping[str, int], budgets: Sequence[tuple[str, int]]) -> Placement:
    """Spread ``files`` (key -> size, most valuable first) over edges with ``budgets``
    (edge id -> bytes) by rendezvous hashing, each edge up to its budget."""
    room = dict(budgets)
    placement = Placement({edge_id: {} for edge_id, _ in budgets})
    for key, size in files.items():
        ranked = sorted(room, key=lambda edge_id: _weight(edge_id, key), reverse=True)
        for edge_id in ranked:
            if room[edge_id] >= size:
                placement.by_edge[edge_id][key] = size
                room[edge_id] -= size
                break
        else:
            placement.unplaced[key] = size
    return placement
