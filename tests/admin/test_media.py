"""Campaign messages: WAV and GSM files are checked before they reach MEDIA_DIR."""

from __future__ import annotations

import dataclasses
import io
import struct

import pytest

from app.web.admin.media import check_gsm, check_message, check_wav
from app.errors import ValidationError
from app.models import Campaign
from app.pbx.tables import MediaFile

from .conftest import flashes
from .test_campaigns import campaign_form


def wav(rate=8000, channels=1, bits=16, fmt=1, frames=800) -> bytes:
    data = b"\x00\x01" * frames * channels
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * channels * bits // 8,
                            channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt_chunk
    body += b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # an odd-sized chunk, padded
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.fixture(autouse=True)
def own_media_dir(request, tmp_path):
    """Each test sees only the files it stored."""
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = dataclasses.replace(settings, media_dir=tmp_path / "media")


def gsm(frames=50) -> bytes:
    return bytes([0xD3] + [0x55] * 32) * frames


def test_it_accepts_mono_16_bit_wav_at_8_and_16_khz():
    assert check_wav(wav()) == {"format": "wav", "rate": 8000, "seconds": 0.1}
    assert check_wav(wav(rate=16000, frames=16000))["seconds"] == 1.0


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"ID3\x03" + b"\x00" * 100, "no RIFF/WAVE header"),
        (wav(channels=2), "must be mono"),
        (wav(bits=8), "must be 16-bit"),
        (wav(rate=44100), "8000 or 16000 Hz, got 44100"),
        (wav(fmt=3), "must be PCM"),
        (wav(frames=0), "no audio data"),
    ],
)
def test_it_refuses_a_wav_asterisk_would_not_play(data, reason):
    with pytest.raises(ValidationError, match=reason):
        check_wav(data)


def test_it_checks_gsm_frames():
    assert check_gsm(gsm(50)) == {"format": "gsm", "rate": 8000, "seconds": 1.0}
    with pytest.raises(ValidationError, match="whole 33-byte frames"):
        check_gsm(gsm(2)[:-1])
    with pytest.raises(ValidationError, match="frame 2 has no 0xD signature"):
        check_gsm(gsm(1) + b"\x00" * 33)
    with pytest.raises(ValidationError, match="must be a .wav or .gsm"):
        check_message("message.mp3", b"whatever")


def upload(client, filename, data, **changes):
    form = campaign_form(message_sound="", **changes)
    form["message_upload"] = (io.BytesIO(data), filename)
    return client.post("/admin/campaign/new/", data=form, content_type="multipart/form-data")


def test_it_stores_an_uploaded_wav_under_media_dir(app, no_csrf, operator_client):
    response = upload(operator_client, "hello.wav", wav())
    assert response.status_code == 302, flashes(response)
    campaign = Campaign.get()
    assert campaign.message_file.startswith(f"campaigns/{campaign.id}/message-")
    assert campaign.message_file.endswith(".wav") and campaign.message_sound == ""
    stored = app.config["SETTINGS"].media_dir / campaign.message_file
    assert stored.read_bytes() == wav()
    # and recorded for the PBX hosts with an agent (app.pbx.media)
    row = MediaFile.get(MediaFile.path == campaign.message_file)
    assert (bytes(row.data), row.size, row.campaign_id) == (wav(), len(wav()), campaign.id)


def test_it_stores_an_uploaded_gsm(app, no_csrf, operator_client):
    assert upload(operator_client, "hello.GSM", gsm()).status_code == 302
    campaign = Campaign.get()
    assert (app.config["SETTINGS"].media_dir / campaign.message_file).read_bytes() == gsm()


@pytest.mark.parametrize(
    "filename,data,reason",
    [
        ("stereo.wav", wav(channels=2), "WAV must be mono"),
        ("broken.gsm", gsm()[:-5], "not whole 33-byte frames"),
        ("song.mp3", b"ID3", "must be a .wav or .gsm file"),
    ],
)
def test_it_refuses_a_bad_message_and_creates_nothing(app, no_csrf, operator_client, filename, data, reason):
    response = upload(operator_client, filename, data)
    assert response.status_code == 200
    assert any(reason in text for text in flashes(response)), flashes(response)
    assert Campaign.select().count() == 0
    media = app.config["SETTINGS"].media_dir / "campaigns"
    assert not media.exists() or not any(media.rglob("*.*"))


def test_it_leaves_a_message_readable_by_asterisk(app, no_csrf, operator_client):
    import os
    import stat

    old = os.umask(0o077)  # even where the service runs with a strict umask
    try:
        assert upload(operator_client, "hello.wav", wav()).status_code == 302
    finally:
        os.umask(old)
    media = app.config["SETTINGS"].media_dir
    stored = media / Campaign.get().message_file
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o644
    for folder in (stored.parent, stored.parent.parent):  # campaigns/<id>/, campaigns/
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o755
