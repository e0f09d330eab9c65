"""/health's PBX check names a PBX without app_amd while a campaign with AMD runs
(AMI ModuleCheck, answered by pbxsim as main/manager.c does)."""

from datetime import datetime, timezone

import pytest

from app.models import ACTIVE, DRAFT, Campaign
from app.pbx.ami import AmiClient
from app.pbx.errors import AmiActionError
from app.pbx.pool import get_pbx, update_pbx
from pbxsim.server import PbxsimThread
from tests.ops.test_health_checks import TOKEN, beat_all, get_health, settings_of  # noqa: F401

AMD = {"enabled": True}


@pytest.fixture
def pbx_without_amd():
    sim = PbxsimThread(username="callcast", secret="s3cret", without_modules=["app_amd"])
    port = sim.start()
    yield port
    sim.stop()


@pytest.fixture
def pbx_with_amd():
    sim = PbxsimThread(username="callcast", secret="s3cret")
    port = sim.start()
    yield port
    sim.stop()


def test_pbxsim_answers_module_check_like_manager_c(pbx_without_amd, pbx_with_amd):
    with AmiClient("127.0.0.1", pbx_with_amd, "callcast", "s3cret") as ami:
        assert ami.action("ModuleCheck", [("Module", "app_amd.so")]).get("Response") == "Success"
        with pytest.raises(AmiActionError, match="Module not loaded"):
            ami.action("ModuleCheck", [("Module", "app_nosuch")])
    with AmiClient("127.0.0.1", pbx_without_amd, "callcast", "s3cret") as ami:
        with pytest.raises(AmiActionError, match="Module not loaded"):
            ami.action("ModuleCheck", [("Module", "app_amd")])


def test_the_pbx_check_fails_only_when_a_running_campaign_needs_amd(
        client, settings_of, pbx_without_amd, pbx_with_amd):  # noqa: F811
    beat_all(datetime.now(timezone.utc))
    settings_of(ami_port=pbx_without_amd, ami_secret="s3cret")
    Campaign.create(name="draft", state=DRAFT, amd=AMD)  # not running: needs nothing yet
    Campaign.create(name="plain", state=ACTIVE)
    status, body = get_health(client)
    assert body["checks"]["pbx"] == {"ok": True, "detail": "ok"}, body
    running = Campaign.create(name="amd", state=ACTIVE, amd=AMD)
    status, body = get_health(client)
    assert status == 503 and body["failing"] == ["pbx"]
    detail = body["checks"]["pbx"]["detail"]
    assert f"campaign(s) {running.id} use answering-machine detection" in detail
    assert "app_amd (Module not loaded)" in detail and "app_waitforsilence" not in detail
    # the pool's one PBX (seeded from the settings at the first check) now has app_amd
    update_pbx(get_pbx("default").id, {"ami_port": pbx_with_amd})
    status, body = get_health(client)
    assert body["checks"]["pbx"] == {"ok": True, "detail": "ok"}, body
