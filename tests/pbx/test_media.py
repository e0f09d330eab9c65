"""Sound files through the database (app.pbx.media): recorded, written where missing or
different, refused when they would leave MEDIA_DIR, released when their campaign closes."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import datetime, timezone

import pytest

from app.campaigns import activation
from app.errors import ValidationError
from app.finalization import finalize
from app.models import ACTIVE, FINALIZING, Campaign
from app.pbx import media
from app.pbx.errors import MediaError
from app.pbx.tables import MediaFile
from dialing_support import make_campaign
from tests.campaign_end_support import make_campaign as ending_campaign
from tests.pool.support import add_sim, free_port

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
SOUND = b"RIFF" + bytes(range(256)) * 40


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_it_writes_a_recorded_file_byte_identical_for_the_asterisk_group_once(db, tmp_path):
    campaign = make_campaign(["+12025550016"], message_file="campaigns/1/message-ab.wav",
                             message_sound="")
    media.record("campaigns/1/message-ab.wav", SOUND, campaign.id)
    manifest = media.needed([campaign.id])
    assert manifest == [("campaigns/1/message-ab.wav", sha(SOUND))]
    root = tmp_path / "pbx-media"
    old = os.umask(0o077)  # a strict umask changes nothing
    try:
        assert media.materialize(root, manifest) == 1
    finally:
        os.umask(old)
    copy = root / "campaigns" / "1" / "message-ab.wav"
    assert copy.read_bytes() == SOUND
    assert mode(copy) == 0o640
    assert mode(copy.parent) == mode(copy.parent.parent) == 0o750
    assert [p.name for p in copy.parent.iterdir()] == ["message-ab.wav"]  # no temp left
    assert media.materialize(root, manifest) == 0  # in place: not written again
    copy.write_bytes(b"something else")  # a different copy is replaced
    assert media.materialize(root, manifest) == 1 and copy.read_bytes() == SOUND


def test_a_re_recorded_path_is_replaced_on_the_next_materialize(db, tmp_path):
    campaign = make_campaign(["+12025550016"], message_file="named/greeting.wav",
                             message_sound="")
    media.record("named/greeting.wav", SOUND, campaign.id)
    root = tmp_path / "pbx-media"
    media.materialize(root, media.needed([campaign]))
    media.record("named/greeting.wav", b"RIFF new", campaign.id)
    manifest = media.needed([campaign])
    assert manifest == [("named/greeting.wav", sha(b"RIFF new"))]
    assert media.materialize(root, manifest) == 1
    assert (root / "named" / "greeting.wav").read_bytes() == b"RIFF new"
    # an older manifest names bytes the database no longer holds: refused, copy kept
    with pytest.raises(MediaError, match="no copy with sha256"):
        media.materialize(root, [("named/greeting.wav", sha(SOUND))])
    assert (root / "named" / "greeting.wav").read_bytes() == b"RIFF new"
    assert MediaFile.select().count() == 1


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "a/../../b.wav",
                                  "a/./b.wav", "", "a//b.wav", "a\\..\\b.wav"])
def test_it_refuses_a_path_that_is_not_plainly_under_media_dir(db, tmp_path, path):
    with pytest.raises(MediaError):
        media.record(path, SOUND, 1)
    # a row written around record (another writer, a hand edit) is refused too
    MediaFile.insert(path=path, sha256=sha(SOUND), size=len(SOUND), data=SOUND, campaign_id=1,
                     created_at=NOW).execute()
    root = tmp_path / "a" / "b" / "media"
    with pytest.raises(MediaError):
        media.materialize(root, [(path, sha(SOUND))])
    assert not (tmp_path / "etc").exists() and not root.exists()


def test_it_refuses_a_path_that_leaves_media_dir_through_a_link(db, tmp_path):
    root, outside = tmp_path / "media", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "campaigns").symlink_to(outside)
    media.record("campaigns/x.wav", SOUND, 1)
    with pytest.raises(MediaError, match="leaves MEDIA_DIR"):
        media.materialize(root, [("campaigns/x.wav", sha(SOUND))])
    assert list(outside.iterdir()) == []


def test_it_bounds_what_it_records_by_the_upload_bound(db):
    with pytest.raises(MediaError, match="larger than 20 MB"):
        media.record("big.wav", b"\x00" * (media.MAX_BYTES + 1), 1)
    assert MediaFile.select().count() == 0


def test_the_activation_records_the_file_the_cli_names_and_its_change(db):
    from app.config import get_settings

    named = get_settings().media_dir / "cli" / "hello.wav"
    named.parent.mkdir(parents=True, exist_ok=True)
    named.write_bytes(SOUND)
    campaign = make_campaign(["+12025550016"], message_file="cli/hello.wav", message_sound="")
    activation.activate(campaign.id, NOW)
    row = MediaFile.get(MediaFile.path == "cli/hello.wav")
    assert (row.sha256, bytes(row.data), row.campaign_id) == (sha(SOUND), SOUND, campaign.id)
    assert media.record_played(campaign, get_settings().media_dir) == 0  # unchanged
    named.write_bytes(b"RIFF changed")
    assert media.record_played(campaign, get_settings().media_dir) == 1
    assert media.needed([campaign.id]) == [("cli/hello.wav", sha(b"RIFF changed"))]


def test_an_activation_records_the_files_of_campaigns_running_since_before_the_table(db):
    from app.config import get_settings

    named = get_settings().media_dir / "older" / "hello.wav"
    named.parent.mkdir(parents=True, exist_ok=True)
    named.write_bytes(SOUND)
    running = make_campaign(["+12025550016"], message_file="older/hello.wav",
                            message_sound="", state=ACTIVE)
    assert media.needed([running]) == []
    activation.activate(make_campaign(["+12025550017"]).id, NOW)
    assert media.needed([running]) == [("older/hello.wav", sha(SOUND))]


def test_an_absolute_message_file_is_refused_only_while_the_pool_has_an_agent(db, tmp_path):
    named = tmp_path / "elsewhere.wav"
    named.write_bytes(SOUND)
    campaign = make_campaign(["+12025550016"], message_file=str(named), message_sound="")
    assert activation.problems(campaign.id, NOW) == []
    add_sim("b", free_port(), 10, agent=True)
    with pytest.raises(ValidationError, match="receive only files named relative to MEDIA_DIR"):
        activation.activate(campaign.id, NOW)


def test_the_purge_at_close_releases_the_rows_a_clone_does_not_play(db):
    closing = ending_campaign(2, state=FINALIZING, message_file="campaigns/9/message-a.wav",
                              message_sound="")
    media.record("campaigns/9/message-a.wav", SOUND, closing.id)
    media.record("campaigns/9/voicemail-b.wav", b"RIFF vm", closing.id)
    clone = make_campaign(["+12025550016"], message_file="campaigns/9/message-a.wav",
                          message_sound="", state=ACTIVE)
    other = make_campaign(["+12025550017"], message_file="campaigns/8/m.wav", message_sound="")
    media.record("campaigns/8/m.wav", SOUND, other.id)
    assert finalize(closing.id, NOW) == "closed"
    rows = {r.path: r.campaign_id for r in MediaFile.select()}
    assert rows == {"campaigns/9/message-a.wav": clone.id, "campaigns/8/m.wav": other.id}
    assert media.release(clone.id) == 1 and media.release(other.id) == 1
    assert MediaFile.select().count() == 0
    assert Campaign.get_by_id(closing.id).state == "CLOSED"


def test_the_purge_at_close_releases_the_speech_files_rows(db):
    closing = ending_campaign(1, state=FINALIZING)
    for digest in ("a" * 64, "b" * 64):
        media.record(f"tts/campaign-{closing.id}/{digest}.wav", SOUND, closing.id)
    assert media.recorded([closing.id]) == [
        (f"tts/campaign-{closing.id}/{d * 64}.wav", sha(SOUND)) for d in "ab"]
    assert finalize(closing.id, NOW) == "closed"
    assert media.recorded([closing.id]) == [] and MediaFile.select().count() == 0
