"""Search text normalization and typo correction against the vocabulary."""

from __future__ import annotations

import pytest

from matinee.services.catalog.vocabulary import (
    MAX_CORRECTIONS,
    Vocabulary,
    max_edits,
    normalize,
    terms_of,
)

CATALOG = Vocabulary(
    terms_of(
        "Stranger Things",
        "The Strange Case of Dr Jekyll",
        "Hawkins, Indiana, 1983: a boy vanishes and his friends look for him",
        "The Crown",
        "Millie Bobby Brown",
        "Amélie",
        "Schindler's List",
    )
)


def test_normalize_folds_case_accents_and_punctuation() -> None:
    assert normalize("Amélie — L'Été, ÇA VA?") == "amelie lete ca va"
    assert normalize("Schindler's List") == "schindlers list"
    assert normalize("Straße_2049") == "strasse 2049"
    assert normalize("   ...   ") == ""


def test_the_allowed_edits_grow_with_the_term() -> None:
    assert [max_edits(n) for n in (1, 3, 4, 7, 8, 12)] == [0, 0, 1, 1, 2, 2]


def test_a_term_that_starts_a_vocabulary_term_is_kept_as_typed() -> None:
    for typed in ("strang", "thin", "st", "crow", "amel"):
        correction = CATALOG.correct(typed)
        assert correction.prefixes == (typed,)
        assert not correction.corrected


@pytest.mark.parametrize(
    ("typed", "expected", "edits"),
    [
        ("stranegr", ("stranger",), 1),  # two neighbours swapped: one edit
        ("strnag", ("strang",), 1),  # a swap inside a prefix still finds the word
        ("thnigs", ("things",), 1),
        ("crwon", ("crown",), 1),
        ("hawkns", ("hawkins",), 1),  # a letter left out
        ("millei", ("milli",), 1),
        ("schindelrs", ("schindlers",), 1),
        ("strxnger", ("stranger",), 1),  # a wrong letter
        ("stzangzr", ("stranger",), 2),  # 8 letters: two edits allowed
    ],
)
def test_typos_are_corrected_to_the_closest_prefixes(
    typed: str, expected: tuple[str, ...], edits: int
) -> None:
    correction = CATALOG.correct(typed)
    assert correction.prefixes == expected
    assert correction.edits == edits
    assert correction.corrected


def test_corrections_stay_within_the_allowed_edits() -> None:
    assert CATALOG.correct("xyz").prefixes == ("xyz",)  # 3 letters: never corrected
    assert CATALOG.correct("qrown").prefixes == ("brown", "crown")  # both one edit away
    assert CATALOG.correct("qrowq").prefixes == ("qrowq",)  # two edits for 5 letters: no
    assert CATALOG.correct("strxngxr").prefixes == ("stranger",)  # two edits for 8: yes
    assert CATALOG.correct("sxrxngxr").prefixes == ("sxrxngxr",)  # three: no


def test_a_shorter_prefix_covers_the_longer_ones_it_starts() -> None:
    # "strangr" is one edit from "strang" (a prefix of strange, stranger) and from "strange".
    assert CATALOG.correct("strangr").prefixes == ("strang",)


def test_every_closest_prefix_is_kept_up_to_a_limit() -> None:
    vocabulary = Vocabulary(["abcax", "abcbx", "abccxyz", "zzzzz"])
    near = vocabulary.correct("abcqx")  # one substitution from abcax, abcbx and abccx...
    assert near.prefixes == ("abcax", "abcbx", "abccx")
    assert vocabulary.correct("abqqx").prefixes == ("abqqx",)  # two edits for 5 letters: no
    wide = Vocabulary([f"{chr(c)}ello" for c in range(ord("a"), ord("z") + 1)])
    assert len(wide.correct("0ello").prefixes) == MAX_CORRECTIONS


def test_an_empty_vocabulary_corrects_nothing() -> None:
    assert Vocabulary([]).correct("stranger").prefixes == ("stranger",)
    assert len(Vocabulary(["a", "a", "b"])) == 2
