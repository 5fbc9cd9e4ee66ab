"""Search text in one normal form, and typo correction against the catalog's vocabulary.

Every engine sees the same tokens: :func:`normalize` lower-cases (case folding), strips accents,
drops apostrophes ("Schindler's" -> "schindlers") and splits on everything that is not a letter
or digit. The vocabulary is the set of distinct terms of every indexed title.

Correcting one query term (:meth:`Vocabulary.correct`), for prefix search:

* a term that starts some vocabulary term stays as it is ("strang" starts "stranger");
* otherwise, the vocabulary *prefixes* within a few edits of it replace it, the closest ones
  only: 0 edits for terms up to 3 characters, 1 for 4 to 7, 2 for 8 and more. Edits are those
  of the optimal string alignment distance: insert, delete, substitute, swap two neighbours
  ("stranegr" -> "stranger" is one edit; "strnag" -> "strang", a prefix of "stranger", too).

The vocabulary is a sorted list walked as an implicit trie (the terms that start with a prefix
are one contiguous run, found by bisection); the walk keeps one row of the edit-distance table
per depth and abandons a branch once every cell of its row exceeds the allowed edits.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

MAX_TERM = 64  # longer tokens are searchable as text but never enter the vocabulary
MIN_CORRECTION = 3  # a correction is never a prefix shorter than this
MAX_CORRECTIONS = 8  # per query term
_TOKEN = re.compile(r"[^\W_]+")
_APOSTROPHES = str.maketrans("", "", "'\u2019\u02bc")
_TOP = "\U0010ffff"  # sorts after every character a term can hold


def normalize(text: str) -> str:
    """``text`` as space-separated tokens in the one form every engine indexes."""
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_APOSTROPHES))
    stripped = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(_TOKEN.findall(stripped))


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` in order, duplicates kept."""
    return normalize(text).split()


def terms_of(*texts: str) -> set[str]:
    """The distinct vocabulary terms of some texts."""
    return {t for text in texts for t in tokens(text) if len(t) <= MAX_TERM}


def max_edits(length: int) -> int:
    """How many edits a query term of ``length`` characters may be corrected by."""
    if length <= 3:
        return 0
    return 1 if length <= 7 else 2


@dataclass(frozen=True)
class Correction:
    """What one query term became: ``prefixes`` to match (as prefixes), ``edits`` away."""

    term: str
    prefixes: tuple[str, ...]
    edits: int

    @property
    def corrected(self) -> bool:
        return self.prefixes != (self.term,)


class Vocabulary:
    """The distinct terms of the catalog, for typo correction."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms: list[str] = sorted(set(terms))

    def __len__(self) -> int:
        return len(self.terms)

    def has_prefix(self, prefix: str) -> bool:
        i = bisect_left(self.terms, prefix)
        return i < len(self.terms) and self.terms[i].startswith(prefix)

    def correct(self, term: str) -> Correction:
        """``term`` itself when it starts a vocabulary term, else its closest prefixes (or
        ``term`` itself when nothing is close enough: it then matches nothing)."""
        if self.has_prefix(term):
            return Correction(term, (term,), 0)
        limit = max_edits(len(term))
        found = self._near(term, limit) if limit else {}
        if not found:
            return Correction(term, (term,), 0)
        best = min(found.values())
        closest = sorted(p for p, d in found.items() if d == best)
        # A prefix already covers every longer one it starts: keep the shortest.
        kept: list[str] = []
        for prefix in closest:
            if not any(prefix.startswith(k) for k in kept):
                kept.append(prefix)
        return Correction(term, tuple(kept[:MAX_CORRECTIONS]), best)

    def _near(self, query: str, limit: int) -> dict[str, int]:
        """Every vocabulary prefix within ``limit`` edits of ``query``, with its distance."""
        found: dict[str, int] = {}
        n = len(query)
        first = list(range(n + 1))
        # Each frame: prefix, the range of terms that start with it, its row, its parent's row.
        stack: list[tuple[str, int, int, list[int], list[int] | None]] = [
            ("", 0, len(self.terms), first, None)
        ]
        while stack:
            prefix, lo, hi, row, parent = stack.pop()
            for child, c_lo, c_hi in self._children(prefix, lo, hi):
                c = child[-1]
                new = [len(child)]
                for j in range(1, n + 1):
                    cost = 0 if query[j - 1] == c else 1
                    value = min(row[j] + 1, new[j - 1] + 1, row[j - 1] + cost)
                    if (
                        parent is not None
                        and j > 1
                        and query[j - 1] == prefix[-1]
                        and query[j - 2] == c
                    ):
                        value = min(value, parent[j - 2] + 1)  # two neighbours swapped
                    new.append(value)
                if new[n] <= limit and len(child) >= MIN_CORRECTION:
                    found[child] = new[n]
                if min(new) <= limit:
                    stack.append((child, c_lo, c_hi, new, row))
        return found

    def _children(self, prefix: str, lo: int, hi: int) -> Iterable[tuple[str, int, int]]:
        """The one-character-longer prefixes under ``prefix`` and their ranges of terms."""
        depth = len(prefix)
        i = lo
        terms = self.terms
        while i < hi:
            term = terms[i]
            if len(term) == depth:  # the prefix itself is a term: it has no further character
                i += 1
                continue
            child = term[: depth + 1]
            end = bisect_left(terms, child + _TOP, i, hi)
            yield child, i, end
            i = end
