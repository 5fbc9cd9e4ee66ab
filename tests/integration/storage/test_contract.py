"""The object-store contract, run against every backend (local directory, S3 API on moto)."""

from __future__ import annotations

import filecmp
import os
import re
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from obstore.exceptions import BaseError

from matinee.storage import (
    InvalidKey,
    ObjectNotFound,
    ObjectStore,
    StorageUnavailable,
    open_store,
)
from matinee.storage.obstore_store import PART_SIZE

from ..conftest import free_port
from .conftest import s3_options

MiB = 1024 * 1024
# Several parts long, so uploads go multipart; large enough that holding it whole would show.
BIG_SIZE = 24 * MiB
DATA = bytes(range(256)) * 40  # 10240 bytes with position-dependent content


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "master.bin"
    with path.open("wb") as file:
        for _ in range(BIG_SIZE // MiB):
            file.write(os.urandom(MiB))
    return path


def test_backends_implement_the_protocol(store: ObjectStore) -> None:
    assert isinstance(store, ObjectStore)
    assert store.url.startswith(("file://", "s3://"))


# --- writing and reading -------------------------------------------------------------------


def test_put_bytes_and_read_back(store: ObjectStore) -> None:
    info = store.put_bytes("manifests/title/master.m3u8", DATA)
    assert (info.key, info.size) == ("manifests/title/master.m3u8", len(DATA))
    assert store.read_bytes("manifests/title/master.m3u8") == DATA


def test_put_bytes_accepts_empty_object(store: ObjectStore) -> None:
    assert store.put_bytes("empty", b"").size == 0
    assert store.read_bytes("empty") == b""


def test_put_overwrites(store: ObjectStore) -> None:
    first = store.put_bytes("k", b"one")
    second = store.put_bytes("k", b"second")
    assert store.read_bytes("k") == b"second"
    assert second.size == 6
    assert second.etag != first.etag


def test_put_stream_round_trip(store: ObjectStore) -> None:
    chunks = [os.urandom(100_000) for _ in range(7)]
    info = store.put_stream("streamed/x.bin", iter(chunks))
    assert info.size == 700_000
    assert b"".join(store.iter_bytes("streamed/x.bin")) == b"".join(chunks)


def test_put_stream_that_fails_writes_nothing(store: ObjectStore) -> None:
    def failing() -> Iterator[bytes]:
        yield b"x" * 1000
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError, match="source went away"):
        store.put_stream("broken", failing())
    assert not store.exists("broken")


def test_put_file_and_get_file_large_round_trip(
    store: ObjectStore, big_file: Path, tmp_path: Path
) -> None:
    assert BIG_SIZE > 2 * PART_SIZE
    info = store.put_file("masters/job/source.mov", big_file)
    assert info.size == BIG_SIZE
    target = tmp_path / "down" / "source.mov"
    got = store.get_file("masters/job/source.mov", target)
    assert got.size == BIG_SIZE
    assert got.etag == info.etag
    assert filecmp.cmp(big_file, target, shallow=False)
    assert sorted(p.name for p in target.parent.iterdir()) == ["source.mov"]  # no temp left


def test_large_transfers_keep_memory_bounded(
    store: ObjectStore, big_file: Path, tmp_path: Path
) -> None:
    tracemalloc.start()
    try:
        store.put_file("big", big_file)
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        store.get_file("big", tmp_path / "big")
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert upload_peak < BIG_SIZE / 3, f"upload peaked at {upload_peak / MiB:.1f} MiB"
    assert download_peak < BIG_SIZE / 3, f"download peaked at {download_peak / MiB:.1f} MiB"


def test_put_file_of_missing_local_file_is_not_a_storage_error(
    store: ObjectStore, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        store.put_file("k", tmp_path / "nope")


def test_get_file_replaces_existing_file(store: ObjectStore, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old content that is longer than the new one")
    store.put_bytes("k", b"new")
    store.get_file("k", target)
    assert target.read_bytes() == b"new"


def test_get_file_gives_the_usual_file_mode(store: ObjectStore, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    store.put_bytes("k", b"x")
    target = tmp_path / "out"
    store.get_file("k", target)
    assert target.stat().st_mode == reference.stat().st_mode


# --- ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, DATA),
        (100, 200, DATA[100:200]),
        (1000, None, DATA[1000:]),
        (None, 300, DATA[:300]),
        (5000, 20_000, DATA[5000:]),  # cut short at the end
        (len(DATA) - 1, None, DATA[-1:]),
        (len(DATA), None, b""),  # starts at the end
        (20_000, None, b""),  # starts past the end
        (20_000, 30_000, b""),
        (7, 7, b""),  # empty
        (9, 3, b""),
    ],
)
def test_iter_bytes_ranges(
    store: ObjectStore, start: int | None, end: int | None, expected: bytes
) -> None:
    store.put_bytes("r", DATA)
    assert b"".join(store.iter_bytes("r", start=start, end=end)) == expected


def test_iter_bytes_streams_in_chunks(store: ObjectStore, big_file: Path) -> None:
    store.put_file("big", big_file)
    sizes = [len(chunk) for chunk in store.iter_bytes("big", start=MiB, end=9 * MiB)]
    assert sum(sizes) == 8 * MiB
    assert len(sizes) > 1
    assert max(sizes) < 8 * MiB


def test_iter_bytes_rejects_negative_offsets(store: ObjectStore) -> None:
    store.put_bytes("r", DATA)
    with pytest.raises(ValueError, match="negative"):
        store.iter_bytes("r", start=-1)


# --- metadata and listing ------------------------------------------------------------------


def test_head(store: ObjectStore) -> None:
    put = store.put_bytes("a/b.txt", DATA)
    info = store.head("a/b.txt")
    assert (info.key, info.size) == ("a/b.txt", len(DATA))
    assert info.etag
    assert info.etag == put.etag
    assert isinstance(info.last_modified, datetime)
    assert info.last_modified.tzinfo is not None


def test_exists(store: ObjectStore) -> None:
    store.put_bytes("here", b"1")
    assert store.exists("here")
    assert not store.exists("not-here")
    assert not store.exists("here/below")


def test_list_matches_key_prefixes_recursively(store: ObjectStore) -> None:
    for key in ("a/1", "a/2", "a/b/3", "ab/4", "b/5"):
        store.put_bytes(key, key.encode())

    def keys(prefix: str = "") -> set[str]:
        return {info.key for info in store.list(prefix)}

    assert keys() == {"a/1", "a/2", "a/b/3", "ab/4", "b/5"}
    assert keys("a/") == {"a/1", "a/2", "a/b/3"}
    assert keys("a") == {"a/1", "a/2", "a/b/3", "ab/4"}
    assert keys("a/b") == {"a/b/3"}
    assert keys("a/1") == {"a/1"}
    assert keys("zzz/") == set()
    sizes = {info.key: info.size for info in store.list("a/b/")}
    assert sizes == {"a/b/3": 5}


# --- deleting ------------------------------------------------------------------------------


def test_delete(store: ObjectStore) -> None:
    store.put_bytes("gone/soon", b"1")
    store.delete("gone/soon")
    assert not store.exists("gone/soon")
    store.delete("gone/soon")  # a missing object is not an error
    store.delete("never/was")


def test_delete_prefix(store: ObjectStore) -> None:
    for key in ("job/1/a", "job/1/b", "job/1/c/d", "job/10/a", "other"):
        store.put_bytes(key, b"x")
    assert store.delete_prefix("job/1/") == 3
    assert {info.key for info in store.list()} == {"job/10/a", "other"}
    assert store.delete_prefix("job/1/") == 0


def test_deleted_directory_name_can_become_a_key(store: ObjectStore) -> None:
    store.put_bytes("d/x/y", b"1")
    store.delete_prefix("d/")
    store.put_bytes("d", b"2")
    assert store.read_bytes("d") == b"2"


# --- errors --------------------------------------------------------------------------------


def test_missing_object_raises_object_not_found(store: ObjectStore, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    target = downloads / "target"
    target.write_bytes(b"keep me")
    with pytest.raises(ObjectNotFound, match=r"no object 'missing' in the object store\.$"):
        store.head("missing")  # the key only: not the store's path or bucket (clients see it)
    with pytest.raises(ObjectNotFound):
        store.read_bytes("missing")
    with pytest.raises(ObjectNotFound):
        store.iter_bytes("missing")
    with pytest.raises(ObjectNotFound):
        store.iter_bytes("missing", start=10, end=20)
    with pytest.raises(ObjectNotFound):
        store.iter_bytes("missing", start=5, end=5)
    with pytest.raises(ObjectNotFound):
        store.get_file("missing", target)
    assert target.read_bytes() == b"keep me"
    assert [p.name for p in downloads.iterdir()] == ["target"]  # no temp file left


BAD_KEYS = ["", "/abs", "dir/", "a//b", "a/../b", "..", "./a", "a\\b", "nul\x00", "part#1"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_refused_by_every_method(
    store: ObjectStore, key: str, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.write_bytes(b"x")
    calls: list[Callable[[], object]] = [
        lambda: store.put_bytes(key, b"x"),
        lambda: store.put_file(key, source),
        lambda: store.put_stream(key, [b"x"]),
        lambda: store.get_file(key, tmp_path / "out"),
        lambda: store.iter_bytes(key),
        lambda: store.read_bytes(key),
        lambda: store.head(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.local_path(key),
    ]
    for call in calls:
        with pytest.raises(InvalidKey):
            call()


@pytest.mark.parametrize("prefix", ["/abs", "a//", "../x", "a\\"])
def test_invalid_prefixes_are_refused(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        store.list(prefix)
    with pytest.raises(InvalidKey):
        store.delete_prefix(prefix)


# --- backend specifics ---------------------------------------------------------------------


def test_local_path(store: ObjectStore) -> None:
    store.put_bytes("media/seg.m4s", DATA)
    path = store.local_path("media/seg.m4s")
    if store.url.startswith("file://"):
        assert path is not None
        assert path.read_bytes() == DATA
    else:
        assert path is None


def test_s3_large_upload_is_multipart(s3_store: ObjectStore, big_file: Path) -> None:
    info = s3_store.put_file("big", big_file)
    # S3 gives a multipart upload an etag of "<md5 of part md5s>-<part count>".
    parts = -(-BIG_SIZE // PART_SIZE)
    assert info.etag is not None
    assert re.fullmatch(rf'"[0-9a-f]{{32}}-{parts}"', info.etag)


def test_dead_s3_backend_raises_storage_unavailable() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    store = open_store("s3://some-bucket/pre", s3_options(dead, max_retries=0))
    calls: list[Callable[[], object]] = [
        lambda: store.head("k"),
        lambda: store.exists("k"),
        lambda: store.put_bytes("k", b"x"),
        lambda: store.read_bytes("k"),
        lambda: store.iter_bytes("k", start=3),
        lambda: list(store.list("a/")),
        lambda: store.delete("k"),
    ]
    for call in calls:
        with pytest.raises(StorageUnavailable) as caught:
            call()
        message = str(caught.value)
        assert message.startswith("could not reach the object store at s3://some-bucket/pre: ")
        assert "\n" not in message
        assert isinstance(caught.value.__cause__, BaseError)
