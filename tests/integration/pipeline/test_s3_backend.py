"""The same ingest with the object store on a real S3 API (a moto server): workers download
their inputs from the bucket and upload what they make, and the package lands in the bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from matinee.jobs.models import JobState
from matinee.platform import Platform
from matinee.storage import S3Options, open_store
from matinee.testing.pipeline import ingest

from ..conftest import create_bucket
from .conftest import PIPELINE_SETTINGS, MakePlatform, keys_under

pytestmark = pytest.mark.slow

START_SECONDS = 30.0
PREFIX = "media/library"


def test_ingest_publishes_the_package_to_s3(
    make_platform: MakePlatform, moto_endpoint: str, short_master: Path
) -> None:
    bucket = create_bucket(moto_endpoint)
    platform: Platform = make_platform(
        **PIPELINE_SETTINGS,
        storage_url=f"s3://{bucket}/{PREFIX}",
        s3_endpoint=moto_endpoint,
        s3_access_key_id="test",
        s3_secret_access_key="test",
        s3_region="us-east-1",
    )

    job_id, state = ingest(platform, short_master, "From S3")

    assert state is JobState.SUCCEEDED, platform.jobs.get(job_id).error
    asset = platform.assets.get(job_id)
    assert asset is not None
    store = platform.objects
    assert store.local_path(asset.hls_key) is None  # really remote, not a local directory
    published = keys_under(store, f"assets/{job_id}/")
    for key in (asset.hls_key, asset.dash_key, asset.poster_key, asset.trickplay_key):
        assert key in published
    for track in asset.tracks:
        base = (track.playlist_key or "").rsplit("/", 1)[0]
        assert f"{base}/init.mp4" in published, track.name
        assert any(k.startswith(f"{base}/") and k.endswith(".m4s") for k in published)
    assert store.read_bytes(asset.hls_key).startswith(b"#EXTM3U")
    assert store.read_bytes(asset.poster_key or "")[:3] == b"\xff\xd8\xff"
    assert keys_under(store, "work/") == []
    # Seen from the bucket's root: everything is under the configured prefix, the master kept.
    root = open_store(
        f"s3://{bucket}",
        S3Options(endpoint=moto_endpoint, access_key_id="test", secret_access_key="test"),
    )
    everything = keys_under(root, "")
    assert everything
    assert all(k.startswith(f"{PREFIX}/") for k in everything)
    assert f"{PREFIX}/{asset.hls_key}" in everything
    assert any(k.startswith(f"{PREFIX}/masters/{job_id}/") for k in everything)
    assert not any(k.startswith(f"{PREFIX}/work/") for k in everything)
    # Workers downloaded into scratch space and cleaned up after themselves.
    assert [p for p in platform.settings.work_dir.rglob("*") if p.is_file()] == []
