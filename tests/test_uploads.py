"""Uploaded files under MEDIA_DIR: safe names, one folder per kind, deleted only there."""

from __future__ import annotations

import io

import pytest

from app import uploads
from app.errors import ValidationError


def test_it_saves_an_upload_under_media_with_a_safe_unique_name(tmp_path):
    first = uploads.save_upload(io.BytesIO(b"phone\n0612345678\n"), "../../etc/passwd list.csv")
    second = uploads.save_upload(io.BytesIO(b"x"), "../../etc/passwd list.csv")
    assert first != second
    assert first.parent == uploads.upload_dir()
    assert first.name.endswith("-passwd_list.csv")
    assert first.read_bytes() == b"phone\n0612345678\n"


def test_it_finds_an_upload_by_its_token_and_refuses_others(tmp_path):
    token, path = uploads.save_by_token(io.BytesIO(b"phone\n0612345678\n"), tmp_path)
    assert path == tmp_path / "uploads" / f"{token}.csv"
    assert uploads.upload_path(token, tmp_path) == path
    with pytest.raises(ValidationError, match="unknown"):
        uploads.upload_path("../../etc/passwd", tmp_path)
    path.unlink()
    with pytest.raises(ValidationError, match="expired"):
        uploads.upload_path(token, tmp_path)


def test_it_discards_only_files_of_the_upload_folders(tmp_path):
    saved = uploads.save_upload(io.BytesIO(b"x"), "list.csv")
    elsewhere = tmp_path / "list.csv"
    elsewhere.write_bytes(b"x")
    assert uploads.discard_upload(saved) and not saved.exists()
    assert not uploads.discard_upload(saved)  # already gone
    assert not uploads.discard_upload(elsewhere) and elsewhere.exists()


def test_it_stores_bytes_without_leaving_a_partial_file(tmp_path):
    target = tmp_path / "campaigns" / "7" / "message.gsm"
    uploads.store_bytes(target, b"\xd3" * 33)
    assert target.read_bytes() == b"\xd3" * 33
    assert [p.name for p in target.parent.iterdir()] == ["message.gsm"]
