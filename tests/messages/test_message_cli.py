"""flask campaign message-template|skipped|message: the same domain functions from the command line."""

from __future__ import annotations

import json

from app.models import Contact
from dialing_support import make_campaign


def test_the_cli_sets_a_template_activates_and_lists_the_skipped(app, db, tmp_path):
    campaign = make_campaign(["+12025550000", "+12025550001"])
    campaign.contact_list.columns = ["amount"]
    campaign.contact_list.save()
    for contact, amount in zip(Contact.select().order_by(Contact.position), ["12", "x"]):
        contact.fields = {"amount": amount}
        contact.save()
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"segments": [{"kind": "say", "field": "amout", "as": "number"}]}))
    refused = runner.invoke(args=["campaign", "message-template", str(campaign.id), str(bad)])
    assert refused.exit_code != 0 and "segment 1: unknown field 'amout'" in refused.output
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"segments": [{"kind": "say", "field": "amount", "as": "number"}]}))
    saved = runner.invoke(args=["campaign", "message-template", str(campaign.id), str(good)])
    assert saved.exit_code == 0, saved.output
    activated = runner.invoke(args=["campaign", "activate", str(campaign.id), "--no-reload"])
    assert activated.exit_code == 0, activated.output
    assert "1 contacts skipped: their values do not fit the personalised message" in \
        activated.output
    skipped = runner.invoke(args=["campaign", "skipped", str(campaign.id)])
    assert skipped.output.splitlines()[1].endswith(",3,+12025550001,field 'amount': 'x' is not "
                                                   "a whole number")
    first = Contact.select().order_by(Contact.position).first()
    said = runner.invoke(args=["campaign", "message", str(campaign.id), str(first.id)])
    assert said.output.strip() == "<number 12>"
