"""Object-key validation and ``open_store`` URL parsing (no backend needed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from matinee.storage import (
    InvalidKey,
    ObjectStore,
    S3Options,
    StorageError,
    open_store,
)
from matinee.storage.obstore_store import validate_key, validate_prefix

GOOD_KEYS = [
    "a",
    "masters/job-1/source.mov",
    "cmaf/video_360/seg-00001.m4s",
    "with space/and ünïcode",
    "hash#tag",
    "part#1x",
    "dots.../..x/x..",
]

BAD_KEYS = {
    "": "empty",
    "/abs/key": "relative",
    "dir/": "end with",
    "a//b": "empty, '.' or '..'",
    ".": "empty, '.' or '..'",
    "./a": "empty, '.' or '..'",
    "a/./b": "empty, '.' or '..'",
    "..": "empty, '.' or '..'",
    "a/../../etc/passwd": "empty, '.' or '..'",
    "a\\b": "backslash",
    "..\\evil": "backslash",
    "nul\x00byte": "control",
    "new\nline": "control",
    "upload#12": "#<digits>",
    "dir#3/file": "#<digits>",
}


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_valid_keys_pass(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(("key", "reason"), BAD_KEYS.items())
def test_invalid_keys_raise_invalid_key(key: str, reason: str) -> None:
    with pytest.raises(InvalidKey) as caught:
        validate_key(key)
    assert reason in str(caught.value)
    assert isinstance(caught.value, StorageError)


@pytest.mark.parametrize("prefix", ["", "a", "a/", "a/b/", "a/b"])
def test_valid_prefixes_pass(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["/", "/a", "a//", "../", "a/../", "a\\"])
def test_invalid_prefixes_raise_invalid_key(prefix: str) -> None:
    with pytest.raises(InvalidKey):
        validate_prefix(prefix)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("gs://bucket/x", "unsupported storage URL 'gs://bucket/x'"),
        ("ftp://host/dir", "unsupported storage URL"),
        ("/plain/path", "unsupported storage URL"),
        ("relative/path", "unsupported storage URL"),
        ("", "unsupported storage URL"),
        ("file://otherhost/srv/x", "remote host"),
        ("file:relative", "absolute path"),
        ("file:///srv/x?mode=1", "query or fragment"),
        ("s3://", "no bucket"),
        ("s3:///prefix", "no bucket"),
        ("s3://bucket/a/../b", "invalid prefix"),
        ("s3://bucket/a//b", "invalid prefix"),
    ],
)
def test_bad_urls_raise_storage_error_in_plain_words(url: str, reason: str) -> None:
    with pytest.raises(StorageError) as caught:
        open_store(url)
    assert reason in str(caught.value)


def test_unknown_scheme_says_which_urls_work() -> None:
    with pytest.raises(StorageError, match="use file:///absolute/directory or s3://bucket/"):
        open_store("memory://")


def test_unusable_s3_settings_raise_storage_error() -> None:
    with pytest.raises(StorageError, match=r"could not set up the S3 store for s3://b: .*Secret"):
        open_store("s3://b", S3Options(access_key_id="only-half-a-credential"))


def test_file_url_opens_a_local_store_and_creates_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "not" / "yet there"
    url = root.as_uri()
    store = open_store(url)
    assert root.is_dir()
    assert isinstance(store, ObjectStore)
    assert store.url == url
    assert store.local_path("masters/x.mov") == root / "masters" / "x.mov"


def test_s3_url_opens_an_s3_store_without_connecting() -> None:
    url = "s3://bucket/some/prefix/"
    store = open_store(
        url, S3Options(endpoint="http://127.0.0.1:9", access_key_id="k", secret_access_key="s")
    )
    assert isinstance(store, ObjectStore)
    assert store.url == url
    assert store.local_path("masters/x.mov") is None


@pytest.mark.parametrize(
    ("endpoint", "allow_http"),
    [(None, False), ("https://s3.example.com", False), ("http://127.0.0.1:9000", True)],
)
def test_s3_options_allow_http_follows_the_endpoint_scheme(
    endpoint: str | None, allow_http: bool
) -> None:
    assert S3Options(endpoint=endpoint).allow_http is allow_http


def test_s3_options_are_frozen() -> None:
    options = S3Options()
    assert options.region == "us-east-1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.region = "eu-west-1"  # type: ignore[misc]
