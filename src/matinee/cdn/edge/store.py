"""The edge's disk: objects under a byte capacity, evicted by a pluggable policy.

Layout under the root::

    objects/media/assets/<id>/...   one file per object, named by its key
    tmp/                            fills in progress (``<random>.part``); emptied at start
    pins.json                       proactively filled keys and until when they stay pinned

A fill writes a temp file and renames it into ``objects/`` only once it is whole, so a reader
never sees half an object and a crash leaves nothing but temp files. The file's modification
time is set to the origin's ``Last-Modified``, so the validators the edge sends
(:mod:`matinee.delivery.http`) are the origin's, and so the index can be rebuilt from the files
alone at start (oldest first by the time they landed). Pins are saved (``save_pins``, each second
from the edge's housekeeping and at stop) and restored at start, so a restarted edge keeps what
the last fill pinned.

The index is a :mod:`matinee.cdn.eviction` policy over keys and sizes: admitting an object
returns the keys to evict. An evicted file is not deleted at once but ``retire_grace`` seconds
later, so a response that was just handed its path still finds it; disk use may run over the
capacity by what was evicted in that time.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from matinee.cdn import make_policy
from matinee.cdn.edge.config import MEDIA_PREFIX
from matinee.cdn.errors import CacheFull
from matinee.cdn.eviction import CacheIndex
from matinee.clock import Clock
from matinee.delivery.errors import UnsafePath
from matinee.delivery.http import Representation
from matinee.delivery.paths import safe_path

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entry:
    """One object on disk: its key, its file and what HTTP says about it. ``cached`` is False
    for an object that did not fit: its file is served once, then retired."""

    key: str
    path: str
    rep: Representation
    cached: bool = True


def asset_prefix(key: str) -> str:
    """The title's folder a key lies in: ``media/assets/<id>/`` (the report's inventory unit)."""
    parts = key.split("/", 3)
    return "/".join(parts[:3]) + "/" if len(parts) > 3 else key


class DiskStore:
    """Objects on disk under ``capacity`` bytes, with an eviction ``policy``."""

    def __init__(
        self,
        root: Path,
        capacity: int,
        clock: Clock,
        *,
        policy: str = "lru",
        retire_grace: float = 10.0,
    ) -> None:
        self.root = root
        self.objects = root / "objects"
        self.tmp = root / "tmp"
        self.policy = policy
        self.index: CacheIndex[str] = cast(CacheIndex[str], make_policy(policy, capacity))
        self._clock = clock
        self._grace = retire_grace
        self._entries: dict[str, Entry] = {}
        self._inventory: dict[str, int] = {}
        self._pins: dict[str, float] = {}  # key -> epoch seconds it stays pinned until
        self._pins_changed = False
        self.pins_path = root / "pins.json"
        self._retired: deque[tuple[float, str, str]] = deque()  # (due, path, key)

    # -- start ---------------------------------------------------------------------------------
    def open(self) -> int:
        """Make the folders, drop leftover temp files, rebuild the index from the objects on
        disk (evicting what no longer fits the capacity); how many objects are held."""
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp.iterdir():
            leftover.unlink(missing_ok=True)
        found = sorted(self._scan(), key=lambda item: item[0])  # oldest landed first
        for _, key, path, st in found:
            evicted = self._insert(key, st.st_size, pinned=False)
            if evicted is None:
                path.unlink()
                continue
            rep = Representation.of(key, st.st_size, int(st.st_mtime))
            self._hold(Entry(key, str(path), rep))
            for victim in evicted:
                self._release(victim, at_once=True)
        restored = sum(self.pin(key, until) for key, until in self._saved_pins().items())
        self._pins_changed = False
        log.info(
            "edge store %s: %d objects, %d bytes, %d pinned",
            self.root,
            len(self),
            self.used_bytes,
            restored,
        )
        return len(self._entries)

    def _saved_pins(self) -> dict[str, float]:
        try:
            saved = json.loads(self.pins_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            log.warning("ignoring %s: not readable as the edge's pins", self.pins_path)
            return {}
        if not isinstance(saved, dict):
            return {}
        return {
            k: float(v) for k, v in saved.items() if isinstance(k, str) and type(v) in (int, float)
        }

    def save_pins(self) -> bool:
        """Write the pins if they changed since the last save (atomically); whether it wrote."""
        if not self._pins_changed:
            return False
        temp = self.pins_path.with_suffix(".tmp")
        temp.write_text(json.dumps(self._pins))
        temp.replace(self.pins_path)
        self._pins_changed = False
        return True

    def _scan(self) -> Iterator[tuple[float, str, Path, os.stat_result]]:
        base = self.objects
        for folder, _, files in os.walk(base):
            for name in files:
                path = Path(folder) / name
                key = path.relative_to(base).as_posix()
                try:
                    safe_path(key)
                except UnsafePath:
                    log.warning("ignoring %s in the edge store: not an object key", path)
                    continue
                st = path.stat()
                if not key.startswith(MEDIA_PREFIX) or st.st_size == 0:
                    path.unlink()
                    continue
                yield st.st_ctime, key, path, st

    # -- lookups -------------------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        """The entry for ``key`` if held, counted as a request by the eviction policy."""
        entry = self._entries.get(key)
        if entry is not None:
            self.index.access(key)
        return entry

    def peek(self, key: str) -> Entry | None:
        """The entry for ``key`` if held, without telling the policy."""
        return self._entries.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def read_bytes(self, key: str) -> bytes | None:
        """A small held object's bytes (a manifest), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        try:
            return Path(entry.path).read_bytes()
        except FileNotFoundError:
            return None

    @property
    def capacity(self) -> int:
        return self.index.capacity

    @property
    def used_bytes(self) -> int:
        return self.index.used_bytes

    def inventory(self) -> dict[str, int]:
        """Bytes held per title folder (``media/assets/<id>/``)."""
        return dict(self._inventory)

    # -- fills ---------------------------------------------------------------------------------
    def temp_path(self) -> Path:
        """A fresh path under ``tmp/`` for a fill in progress."""
        return self.tmp / f"{secrets.token_hex(8)}.part"

    def admit(self, key: str, temp: Path, mtime: int, *, pin_until: float | None = None) -> Entry:
        """Move the whole file ``temp`` into place as ``key`` (modified at ``mtime``), evicting
        what the policy chooses. When it does not fit beside pinned content (or is empty: the
        index counts bytes), the entry serves this once from the temp file (``cached`` False),
        which is retired after the grace."""
        os.utime(temp, (mtime, mtime))
        size = temp.stat().st_size
        pinned = pin_until is not None and pin_until > self._clock.time()
        evicted = self._insert(key, size, pinned=pinned) if size > 0 else None
        rep = Representation.of(key, size, mtime)
        if evicted is None:
            self._retire(str(temp), key="")
            return Entry(key, str(temp), rep, cached=False)
        dest = self.objects / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp.replace(dest)
        previous = self._entries.get(key)
        if previous is not None:
            self._inventory_add(key, -previous.rep.size)
        entry = Entry(key, str(dest), rep)
        self._hold(entry)
        if pinned and pin_until is not None:
            self._pins[key] = pin_until
            self._pins_changed = True
        for victim in evicted:
            self._release(victim)
        self.sweep()
        return entry

    def _insert(self, key: str, size: int, *, pinned: bool) -> list[str] | None:
        """The index's verdict: keys to evict, or None when the object does not fit."""
        try:
            return self.index.insert(key, size, pinned=pinned)
        except CacheFull:
            return None

    def _hold(self, entry: Entry) -> None:
        self._entries[entry.key] = entry
        self._inventory_add(entry.key, entry.rep.size)

    def _inventory_add(self, key: str, size: int) -> None:
        prefix = asset_prefix(key)
        total = self._inventory.get(prefix, 0) + size
        if total > 0:
            self._inventory[prefix] = total
        else:
            self._inventory.pop(prefix, None)

    def _release(self, key: str, *, at_once: bool = False) -> None:
        """Forget an evicted key; its file goes now (at start) or after the grace."""
        entry = self._entries.pop(key, None)
        if self._pins.pop(key, None) is not None:
            self._pins_changed = True
        if entry is None:
            return
        self._inventory_add(key, -entry.rep.size)
        if at_once:
            Path(entry.path).unlink(missing_ok=True)
        else:
            self._retire(entry.path, key=key)

    def _retire(self, path: str, *, key: str) -> None:
        self._retired.append((self._clock.monotonic() + self._grace, path, key))

    def sweep(self) -> int:
        """Delete retired files whose grace has passed (unless their key was filled again);
        how many were deleted."""
        now = self._clock.monotonic()
        deleted = 0
        while self._retired and self._retired[0][0] <= now:
            _, path, key = self._retired.popleft()
            if key and key in self._entries:
                continue  # filled again meanwhile: the file at that path is the new one
            try:
                Path(path).unlink()
                deleted += 1
            except FileNotFoundError:
                pass
        return deleted

    def remove(self, key: str) -> bool:
        """Drop ``key`` (its file retires); False if it was not held."""
        if key not in self._entries:
            return False
        self.index.remove(key)
        self._release(key)
        return True

    # -- pins ----------------------------------------------------------------------------------
    def pin(self, key: str, until: float) -> bool:
        """Keep ``key`` from eviction until ``until`` (epoch seconds); False if not held."""
        if key not in self._entries or until <= self._clock.time():
            return False
        self.index.pin(key)
        self._pins[key] = max(until, self._pins.get(key, 0.0))
        self._pins_changed = True
        return True

    def unpin_expired(self) -> int:
        """Return keys whose pin has run out to the eviction queues; how many."""
        now = self._clock.time()
        done = [key for key, until in self._pins.items() if until <= now]
        for key in done:
            del self._pins[key]
            self.index.unpin(key)
            self._pins_changed = True
        return len(done)

    @property
    def pinned_bytes(self) -> int:
        return self.index.pinned_bytes

    def keys(self) -> list[str]:
        return list(self._entries)
