"""/health and the Operations page name a lost PBX, and clear it once it answers again."""

from __future__ import annotations

from app.clock import utcnow
from app.config import get_settings
from app.pbx.pool import mark_down
from app.pbx.poolhealth import check_pool
from app.pbx.tables import Pbx
from dialing_support import SimPbx
from tests.pool.support import SimProcess, add_sim, free_port


def test_health_and_the_operations_page_name_the_lost_pbx_until_it_answers(db, viewer_client):
    a = SimPbx()
    b = SimProcess(free_port()).start()
    try:
        add_sim("a", a.port, 10)
        row_b = add_sim("b", b.port, 10)
        assert check_pool(get_settings(), utcnow()) == (True, "2 PBXs answer: a, b")
        b.kill9()
        mark_down(row_b.id, "AmiConnectionError: closed by peer", utcnow())  # as the dialer does
        ok, detail = check_pool(get_settings(), utcnow())
        assert not ok and detail.startswith(f"b: AMI 127.0.0.1:{b.port} as ")
        assert "a:" not in detail
        page = viewer_client.get("/admin/operations/").get_data(as_text=True)
        table = page.split('id="pbx-pool"')[1].split("</table>")[0]
        row = table.split("<td>b</td>")[1].split("</tr>")[0]
        assert "DOWN since" in row and "closed by peer" in row
        assert "up" in table.split("<td>a</td>")[1].split("</tr>")[0]
        health = page.split('id="health-checks"')[1].split("</table>")[0]
        assert "<td>pbx</td><td>FAILING</td>" in health and f"b: AMI 127.0.0.1:{b.port}" in health
        b.start()
        assert check_pool(get_settings(), utcnow()) == (True, "2 PBXs answer: a, b")
        assert Pbx.get(Pbx.name == "b").down_since is None  # it answers: up again
    finally:
        b.stop()
        a.close()
