"""Who may fetch what from an edge: the origin's checks, with what the edge has learnt kept.

* The path must be plain (:func:`matinee.delivery.paths.safe_path`), else 400.
* The token's signature is checked once per token; its claims are remembered, and each request
  checks them against the clock, the path and the client's address
  (:meth:`matinee.delivery.tokens.UrlSigner.check`), else 403.
* A token with a height cap may not fetch segments of taller renditions. The rendition folders
  come from the title's HLS master playlist, which the edge must hold to judge: when it does
  not, :class:`MasterNeeded` tells the caller to fill it first, so a missing master is never
  taken for a title without renditions (only the origin's 404 says so).
* With nginx in front (:mod:`matinee.cdn.edge.front`), a request that passed every check gets
  its grant (:class:`matinee.cdn.edge.front.Grants`): nginx serves the next requests of that
  token, from that client, in that folder itself.
"""

from __future__ import annotations

from matinee.cdn.edge.front import Grants
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

    def __init__(
        self, signer: UrlSigner, store: DiskStore, *, grants: Grants | None = None
    ) -> None:
        self.signer = signer
        self._store = store
        self._claims: dict[str, Claims] = {}
        self._no_master: set[str] = set()
        self._grants = grants
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

    def grant(self, token: str, claims: Claims, path: str, *, client_ip: str | None) -> None:
        """``path`` passed every check for ``token`` from ``client_ip``: with nginx in front, let
        it serve that folder to that client with that token from now on."""
        if self._grants is not None:
            self._grants.grant(client_ip, token, path, claims.expires, self.signer.clock.time())

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
