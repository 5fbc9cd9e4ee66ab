"""tus headers: versions, byte counts, content type and the upload form's metadata."""

from __future__ import annotations

import base64

import pytest

from matinee.services.media import tus
from matinee.services.media.errors import (
    TusVersionUnsupported,
    UploadContentType,
    UploadRequestInvalid,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_metadata_round_trips_through_the_header() -> None:
    header = tus.encode_metadata(
        {"filename": "Bünny, 1.MOV", "title": "Big Buck", "title_id": None}
    )
    assert header == f"filename {b64('Bünny, 1.MOV')},title {b64('Big Buck')}"
    assert tus.parse_metadata(header) == {"filename": "Bünny, 1.MOV", "title": "Big Buck"}
    assert tus.parse_metadata(f"flag,title {b64('x')}") == {"flag": "", "title": "x"}
    assert tus.parse_metadata(None) == {} == tus.parse_metadata("  ")


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("title !!!", "not base64"),
        (f"ti tle {b64('x')}", "not base64"),
        (f"bad/key {b64('x')}", "not a plain word"),
        (f"title {b64('a')},title {b64('b')}", "names 'title' twice"),
        ("title " + base64.b64encode(b"\xff").decode(), "UTF-8"),
        ("x" * (tus.MAX_METADATA_HEADER + 1), "longer than"),
    ],
)
def test_bad_metadata_is_refused_in_plain_words(header: str, words: str) -> None:
    with pytest.raises(UploadRequestInvalid, match=words):
        tus.parse_metadata(header)


def test_the_form_names_the_job_after_the_title_or_the_file() -> None:
    form = tus.upload_metadata({"filename": "a/b\\bunny.MOV", "title": " Bunny ", "title_id": "t1"})
    assert (form.filename, form.title, form.title_id, form.suffix) == (
        "a_b_bunny.MOV",
        "Bunny",
        "t1",
        ".mov",
    )
    assert tus.upload_metadata({"filename": "clip.final.mp4"}).title == "clip.final"
    assert tus.upload_metadata({"title": "No file name"}).filename == "master"
    assert tus.upload_metadata({"title": "x", "filename": "noext"}).suffix == ".bin"
    assert tus.upload_metadata({"title": "x", "filename": "a.weird-ext!"}).suffix == ".bin"
    with pytest.raises(UploadRequestInvalid, match="needs a title"):
        tus.upload_metadata({"other": "value"})
    with pytest.raises(UploadRequestInvalid, match="title is longer than 300"):
        tus.upload_metadata({"title": "x" * 301})
    with pytest.raises(UploadRequestInvalid, match="control characters"):
        tus.upload_metadata({"title": "a\x00b"})


def test_version_counts_and_content_type() -> None:
    tus.check_version({"tus-resumable": "1.0.0"})
    with pytest.raises(UploadRequestInvalid, match="Tus-Resumable header is missing"):
        tus.check_version({})
    with pytest.raises(TusVersionUnsupported, match=r"speaks tus 1\.0\.0, not '0\.2\.2'"):
        tus.check_version({"tus-resumable": "0.2.2"})
    assert tus.parse_count({"upload-length": " 42 "}, "Upload-Length") == 42
    with pytest.raises(UploadRequestInvalid, match="The Upload-Offset header is missing"):
        tus.parse_count({}, "Upload-Offset")
    for bad in ("-1", "1e3", "", "12 34", "9" * 20):
        with pytest.raises(UploadRequestInvalid, match="whole number of bytes"):
            tus.parse_count({"upload-length": bad}, "Upload-Length")
    tus.check_content_type({"content-type": "application/offset+octet-stream"})
    with pytest.raises(UploadContentType, match=r"this one had 'text/plain'"):
        tus.check_content_type({"content-type": "text/plain"})
    with pytest.raises(UploadContentType, match="had none"):
        tus.check_content_type({})


def test_every_answer_names_the_protocol() -> None:
    assert tus.tus_headers(Upload_Offset="5") == {
        "Tus-Resumable": "1.0.0",
        "Cache-Control": "no-store",
        "Upload-Offset": "5",
    }
