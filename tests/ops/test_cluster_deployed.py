"""The cluster drill's hosts deployed by the Ansible playbook (``tests/ops/clusterdeploy.py``)
instead of started by hand, then one campaign of 5,000 contacts with the checks of
``test_cluster.py``.

Collected only by ``make drill-cluster`` (``CALLCAST_CLUSTER_DRILL=1``): it repeats the
hand-started run's checks through ``site.yml`` (about 5 minutes more), while the
playbook's placement of every program, the agent's included, is checked in ``make
test`` by ``test_ansible.py``. PostgreSQL and root, as ``test_cluster.py``.
"""

from __future__ import annotations

import pytest

from app.pbx.registry import reset_registry
from tests.ops.netns import Cluster
from tests.ops.test_cluster import (  # noqa: F401  (pg is a fixture)
    CAP, PBXS, add_pool, attempts_by_contact, check_calls, check_outcomes, closes, finished,
    health, launch, pbx_stats, pg, root_pg_name)
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]


@pytest.fixture
def deployed(pg, broker, tmp_path, request):  # noqa: F811  (the fixture imported above)
    """The same hosts, deployed by site.yml (``tests/ops/clusterdeploy.py``)."""
    from tests.ops.clusterdeploy import Deployed

    cluster = Cluster(tmp_path)
    made = None
    try:
        cluster.up()
        made = Deployed(cluster, PBXS, root_pg_name(request.config))
        add_pool(cluster)
        yield made.apply()
    finally:
        if made is not None:
            made.close()
        reset_registry()
        cluster.close()


def test_the_playbook_deploys_the_cluster_hosts_and_they_dial_a_campaign(deployed):
    campaign = launch(deployed)
    wait_until(lambda: finished(campaign.id), 1200, "the campaign to finish", interval=1.0)
    per_contact = attempts_by_contact(campaign.id)
    check_outcomes(campaign, per_contact)
    stats = {name: pbx_stats(deployed, name) for name in PBXS}
    peaks, top = check_calls(campaign, stats)
    body = health(deployed)[1]
    assert body["checks"]["pbx"] == {"ok": True, "detail": "3 PBXs answer: pbx1, pbx2, pbx3"}, body
    closes(deployed, campaign.id)
    print(f"cluster deployed by site.yml: peaks {peaks}; campaign peak {top}/{CAP}")

