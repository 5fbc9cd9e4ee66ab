"""Who may fetch what from an edge: the origin's checks, with what the edge has learnt kept.

* The path must be plain (:func:`matinee.delivery.paths.safe_path`), else 400.
* The token's signature is checked once per token; its claims are remembered, and each request
  checks them against the clock, the path and the client's address
  (:meth:`matinee.delivery.tokens.UrlSigner.check`), else 403.
* A token with a height cap may not fetch segments of taller renditions. The rendition folders
  come from the title's HLS master playlist, which the edge must hold to judge: when it does
  not, :class:`MasterNeeded` tells the caller to fill it first, so a missing master is never
  taken for a title without renditions (only the origin's 404 says so).
* With nginx in front (:mod:`matinee.cdn.edge.front`), each rendition folder allowed at a cap
  gets its gate file (``gates/<prefix><folder>/<cap>``), so nginx serves the next requests of
  that folder at that cap itself.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from matinee.cdn.edge.front import gate_path
from matinee.cdn.edge.store import DiskStore
from matinee.delivery.access import RenditionGuard
from matinee.delivery.paths import safe_path
from matinee.delivery.tokens import Claims, UrlSigner

HLS_MASTER = "master.m3u8"  # matinee.media.package.HLS_MASTER, without importing the packager
MAX_REMEMBERED = 8192


class MasterNeeded(Exception):
    """The edge must fill ``key`` (a title's HLS master) before it can judge a request."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class EdgeAccess:
    """Token and rendition checks for one edge."""

    def __init__(self, signer: UrlSigner, store: DiskStore, *, gates: Path | None = None) -> None:
        self.signer = signer
        self._store = store
        self._claims: dict[str, Claims] = {}
        self._no_master: set[str] = set()
        self._gates = gates
        self._opened: set[tuple[str, str, int]] = set()
        self.guard = RenditionGuard(self._read_master)

    def claims(self, token: str, path: str, *, client_ip: str | None) -> Claims:
        """The token's claims if it may fetch ``path`` now from ``client_ip``; raises
        UnsafePath (400) or an AccessDenied error (403)."""
        safe_path(path)
        claims = self._claims.get(token)
        if claims is None:
            claims = self.signer.claims(token)
            if len(self._claims) >= MAX_REMEMBERED:
                self._claims.clear()
            self._claims[token] = claims
        return self.signer.check(claims, path, client_ip=client_ip)

    def check_rendition(self, claims: Claims, path: str) -> None:
        """Raise RenditionNotAllowed for a rendition above the token's cap, MasterNeeded when
        the title's master playlist must be filled first."""
        if claims.max_height is not None:
            self.guard.check(claims.prefix, path, claims.max_height)
            if self._gates is not None:
                self._open_gate(claims.prefix, path, claims.max_height)

    def _open_gate(self, prefix: str, path: str, cap: int) -> None:
        """Let nginx serve ``path``'s folder at ``cap`` from now on (the guard allowed it)."""
        folder = posixpath.dirname(path[len(prefix) :])
        memo = (prefix, folder, cap)
        if self._gates is None or not folder or memo in self._opened:
            return
        gate = gate_path(self._gates, prefix, folder, cap)
        gate.parent.mkdir(parents=True, exist_ok=True)
        gate.touch()
        if len(self._opened) >= MAX_REMEMBERED:
            self._opened.clear()
        self._opened.add(memo)

    def master_missing(self, prefix: str) -> None:
        """The origin has no master playlist under ``prefix``: nothing to refuse there."""
        if len(self._no_master) >= MAX_REMEMBERED:
            self._no_master.clear()
        self._no_master.add(prefix)

    def _read_master(self, prefix: str) -> str | None:
        key = prefix + HLS_MASTER
        body = self._store.read_bytes(key)
        if body is not None:
            return body.decode("utf-8", errors="replace")
        if prefix in self._no_master:
            return None
        raise MasterNeeded(key)
