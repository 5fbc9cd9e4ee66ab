"""Ketama: points per server, even spread, and minimal remapping when servers come and go."""

from __future__ import annotations

from collections import Counter

import pytest

from matinee.cache.ketama import KetamaRing, key_hash

SERVERS = [f"10.0.0.{i}:11211" for i in range(1, 5)]
KEYS = [f"title:{i}".encode() for i in range(20_000)]


def owners(ring: KetamaRing) -> dict[bytes, str]:
    return {key: ring.server_for(key) for key in KEYS}


def test_each_server_gets_160_points_with_equal_weights() -> None:
    assert len(KetamaRing(SERVERS)) == 160 * len(SERVERS)
    assert len(KetamaRing(SERVERS[:1])) == 160


def test_points_follow_weights_as_libketama_does() -> None:
    ring = KetamaRing(SERVERS[:2], weights={SERVERS[0]: 3, SERVERS[1]: 1})
    # floor(3/4 * 40 * 2) = 60 digests, floor(1/4 * 40 * 2) = 20 digests, 4 points each
    assert len(ring) == (60 + 20) * 4
    share = Counter(owners(ring).values())
    assert 0.65 < share[SERVERS[0]] / len(KEYS) < 0.85


def test_key_hash_is_the_first_four_md5_bytes_little_endian() -> None:
    # md5(b"") = d41d8cd98f00b204e9800998ecf8427e
    assert key_hash(b"") == 0xD98C1DD4


def test_keys_spread_evenly() -> None:
    share = Counter(owners(KetamaRing(SERVERS)).values())
    assert set(share) == set(SERVERS)
    for count in share.values():
        # 160 points per server keep each within about 10% of a quarter
        assert 0.75 * len(KEYS) / 4 < count < 1.25 * len(KEYS) / 4


def test_adding_a_server_moves_only_keys_to_it() -> None:
    before = owners(KetamaRing(SERVERS))
    new = "10.0.0.9:11211"
    after = owners(KetamaRing([*SERVERS, new]))
    moved = [key for key in KEYS if before[key] != after[key]]
    assert all(after[key] == new for key in moved)
    # about 1/5 of the keys move (all of them to the new server), not a reshuffle
    assert 0.12 < len(moved) / len(KEYS) < 0.28


def test_removing_a_server_moves_only_its_keys() -> None:
    before = owners(KetamaRing(SERVERS))
    gone = SERVERS[2]
    after = owners(KetamaRing([s for s in SERVERS if s != gone]))
    for key in KEYS:
        if before[key] != gone:
            assert after[key] == before[key]
        else:
            assert after[key] != gone


def test_server_order_does_not_change_ownership() -> None:
    assert owners(KetamaRing(SERVERS)) == owners(KetamaRing(list(reversed(SERVERS))))


def test_wraps_around_past_the_last_point() -> None:
    ring = KetamaRing(SERVERS)
    assert ring.server_at(2**32 - 1) == ring.server_at(0)


def test_rejects_empty_duplicate_and_bad_weights() -> None:
    with pytest.raises(ValueError, match="at least one"):
        KetamaRing([])
    with pytest.raises(ValueError, match="unique"):
        KetamaRing(["a:1", "a:1"])
    with pytest.raises(ValueError, match="positive"):
        KetamaRing(["a:1"], weights={"a:1": 0})
