"""The check a media server (the origin, later the edges) runs on every signed request.

:class:`SignedAccess` verifies the token for the path (:mod:`matinee.delivery.tokens`), then,
when the token caps the height, refuses segments of renditions taller than the cap: the
filtered manifests do not list them, and a guessed URL must not fetch them either. The folders
of a title's renditions come from its HLS master playlist, read once per title and remembered
(a published package never changes).
"""

from __future__ import annotations

import posixpath
import threading
from collections import OrderedDict
from collections.abc import Callable

from matinee.delivery.errors import RenditionNotAllowed
from matinee.delivery.manifests import rendition_dirs
from matinee.delivery.tokens import Claims, UrlSigner

# Reads the HLS master playlist of the package under a signed prefix; None when there is none.
MasterReader = Callable[[str], str | None]


class RenditionGuard:
    """Remembers, per signed prefix, which folder holds which rendition height."""

    def __init__(self, read_master: MasterReader, *, max_titles: int = 4096) -> None:
        self._read = read_master
        self._max = max_titles
        self._dirs: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._lock = threading.Lock()  # the origin's sync routes run on a thread pool

    def _folders(self, prefix: str) -> dict[str, int]:
        with self._lock:
            known = self._dirs.get(prefix)
            if known is not None:
                self._dirs.move_to_end(prefix)
                return known
        master = self._read(prefix)
        folders = rendition_dirs(master) if master is not None else {}
        with self._lock:
            self._dirs[prefix] = folders
            while len(self._dirs) > self._max:
                self._dirs.popitem(last=False)
        return folders

    def check(self, prefix: str, path: str, max_height: int) -> None:
        """Raise RenditionNotAllowed if ``path`` (under ``prefix``) is in a rendition folder
        taller than ``max_height``."""
        folder = posixpath.dirname(path[len(prefix) :])
        height = self._folders(prefix).get(folder) if folder else None
        if height is not None and height > max_height:
            raise RenditionNotAllowed(
                f"Your plan plays video up to {max_height} pixels tall; this one is {height}."
            )


class SignedAccess:
    """Token verification plus the rendition guard, in the order a server needs them."""

    def __init__(self, signer: UrlSigner, guard: RenditionGuard) -> None:
        self.signer = signer
        self.guard = guard

    def check(self, token: str, path: str, *, client_ip: str | None = None) -> Claims:
        """The token's claims if it may fetch ``path``; raises UnsafePath (400) or an
        AccessDenied error (403)."""
        claims = self.signer.verify(token, path, client_ip=client_ip)
        if claims.max_height is not None:
            self.guard.check(claims.prefix, path, claims.max_height)
        return claims
