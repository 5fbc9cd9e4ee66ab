"""The homepage's fallbacks: every one taken is counted, and logged once per outage.

``homepage.fallback`` {source, reason} counts each; the first one of a source is logged as a
warning, and when that source answers again, its recovery is logged once too.
"""

from __future__ import annotations

import logging

from matinee.telemetry.metrics import Registry

log = logging.getLogger("matinee.services.homepage")


class Fallbacks:
    def __init__(self, metrics: Registry) -> None:
        self.metrics = metrics
        self._down: set[str] = set()

    def take(self, source: str, reason: str, detail: str) -> None:
        """Count a fallback for ``source``; log it if ``source`` was answering until now."""
        self.metrics.counter("homepage.fallback", source=source, reason=reason).inc()
        if source not in self._down:
            self._down.add(source)
            log.warning(
                "homepage: %s; %s (counted in homepage.fallback, logged once until it answers)",
                detail,
                _WHAT[reason],
            )

    def ok(self, source: str) -> None:
        """``source`` answered: log its recovery if it was down."""
        if source in self._down:
            self._down.discard(source)
            log.info("homepage: %s answers again", source)

    def down(self, source: str) -> bool:
        return source in self._down


_WHAT = {
    "last_good": "serving the last good copy of the country's rows",
    "no_rows": "leaving its rows out",
    "catalog_order": "ranking popular titles in catalog order",
    "most_restrictive": "showing only titles for every age",
    "default_country": "taking the member to be in the default country",
    "kept_old": "keeping the last good copy",
}
