"""The refusals the other API tests did not reach: each route's documented 422, and its 404.

Found by recording the (route, status) pairs the API tests produced against the
OpenAPI document's responses; the fuzz reached these too, but only as "some 4xx".
"""

from __future__ import annotations

from app.models import DRAFT, Campaign, ContactList, DoNotCall
from tests.api.conftest import error_code

CAMPAIGN = "/api/v1/campaigns/{id}"


REFUSED_422 = [
    ("post", CAMPAIGN + "/template", {}),
    ("post", CAMPAIGN + "/template", {"is_template": "maybe"}),
    ("post", CAMPAIGN + "/template", {"is_template": True, "other": 1}),
    ("post", CAMPAIGN + "/stop-contact", {}),
    ("post", CAMPAIGN + "/stop-contact", {"contact": ""}),
    ("post", CAMPAIGN + "/stop-contact", {"contact": "1" * 41}),
    ("post", CAMPAIGN + "/stop-contact", {"contact": "1", "note": "x" * 256}),
    ("get", CAMPAIGN + "/results?page=0", None),
    ("get", CAMPAIGN + "/results?per_page=100000", None),
    ("get", CAMPAIGN + "/results?page=abc", None),
    ("get", "/api/v1/contact-lists/?page=0", None),
    ("get", "/api/v1/contact-lists/?per_page=100000", None),
    ("get", "/api/v1/holidays/?campaign_id=0", None),
    ("get", "/api/v1/holidays/?campaign_id=abc", None),
    ("get", "/api/v1/holidays/?campaign_id=99999999999999999999999", None),
    ("post", "/api/v1/dnc/remove", {}),
    ("post", "/api/v1/dnc/remove", {"phone": ""}),
    ("post", "/api/v1/dnc/remove", {"phone": "hello"}),
    ("post", "/api/v1/dnc/bulk", {}),
    ("post", "/api/v1/dnc/bulk", {"phones": []}),
    ("post", "/api/v1/dnc/bulk", {"phones": ["+12025550101"] * 1001}),
    ("post", "/api/v1/dnc/bulk", {"phones": ["1" * 65]}),
    ("post", "/api/v1/dnc/bulk", {"phones": "+12025550101"}),
]
NOT_FOUND = [
    ("post", "/api/v1/campaigns/4242/template", {"is_template": True}),
    ("post", "/api/v1/campaigns/4242/stop-contact", {"contact": "+12025550101"}),
    ("post", "/api/v1/campaigns/4242/recycle", {}),
    ("post", "/api/v1/campaigns/4242/activate", None),
    ("post", "/api/v1/campaigns/4242/resume", None),
    ("post", "/api/v1/campaigns/4242/finish", None),
    ("patch", "/api/v1/campaigns/4242", {"name": "x"}),
    ("get", "/api/v1/campaigns/4242/skipped.csv", None),
    ("get", "/api/v1/holidays/4242", None),
    ("delete", "/api/v1/holidays/4242", None),
]


def answer(api, method, path, body):
    return getattr(api, method)(path, **({} if body is None else {"json": body}))


# one test a list, not one a case: the app, schema and tokens are built once per engine
def test_it_answers_each_documented_422_naming_the_fault(db, api):
    campaign = Campaign.create(name="c", state=DRAFT)
    for method, path, body in REFUSED_422:
        response = answer(api, method, path.format(id=campaign.id), body)
        assert response.status_code == 422, (method, path, body, response.get_json())
        assert error_code(response) == "validation_failed"
    assert Campaign.get_by_id(campaign.id).is_template is False
    assert DoNotCall.select().count() == 0


def test_it_answers_404_for_what_does_not_exist(db, api):
    for method, path, body in NOT_FOUND:
        response = answer(api, method, path, body)
        assert response.status_code == 404, (method, path, body, response.get_json())
        assert error_code(response) == "not_found"


def test_it_refuses_to_stop_a_contact_of_a_campaign_that_is_not_dialing(db, api):
    ready = ContactList.create(name="l", status="ready")
    campaign = Campaign.create(name="c", state=DRAFT, contact_list=ready.id)
    response = api.post(f"/api/v1/campaigns/{campaign.id}/stop-contact",
                        json={"contact": "+12025550101"})
    assert response.status_code == 422 and error_code(response) == "validation_failed"
    assert "ACTIVE or PAUSED" in response.get_json()["error"]["message"]
