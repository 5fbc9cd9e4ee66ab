"""The ``store`` fixture: every contract test runs against the local directory and real S3 API.

The S3 API is the session's moto server (``moto_endpoint`` in tests/integration/conftest.py);
each test gets a fresh bucket.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from matinee.storage import ObjectStore, S3Options, open_store

from ..conftest import create_bucket


def s3_options(endpoint: str, *, max_retries: int = 1) -> S3Options:
    # moto accepts any credentials; explicit ones keep the host's AWS setup out of the tests.
    return S3Options(
        endpoint=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        max_retries=max_retries,
    )


@pytest.fixture
def s3_store(moto_endpoint: str) -> ObjectStore:
    """An S3 store in a fresh bucket, under a prefix (so prefixed paths are exercised too)."""
    bucket = create_bucket(moto_endpoint)
    return open_store(f"s3://{bucket}/under/prefix", s3_options(moto_endpoint))


@pytest.fixture
def local_store(tmp_path: Path) -> ObjectStore:
    return open_store((tmp_path / "objects").as_uri())


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    """Each backend in turn; moto starts only when an S3 case runs."""
    backend: ObjectStore = request.getfixturevalue(f"{request.param}_store")
    return backend
