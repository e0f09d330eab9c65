"""Every flask command has its own name: two verbs of one name would silently hide one."""

import click
import pytest

from app.cli.message import attach as attach_messages
from app.cli.reuse import attach as attach_reuse


def test_the_campaign_group_offers_both_templates_under_their_own_names(app):
    campaign = app.cli.commands["campaign"]
    assert {"template", "templates", "message-template", "skipped", "message"} <= set(
        campaign.commands)
    # the campaign-template mark and the message template are two commands, not one hiding the other
    assert campaign.commands["template"] is not campaign.commands["message-template"]
    assert "message template" in campaign.commands["message-template"].help


def test_a_second_command_of_the_same_name_is_refused():
    group = click.Group("campaign")
    attach_reuse(group)
    attach_reuse(group)  # the same commands again: no change
    clash = click.Group("campaign")
    clash.add_command(click.Command("message-template", callback=lambda: None))
    with pytest.raises(RuntimeError, match="two commands named 'campaign message-template'"):
        attach_messages(clash)
