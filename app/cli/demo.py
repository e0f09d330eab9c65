"""``flask --app app demo seed``: the demo user and campaign the README's run command shows.

It goes through the same paths an operator uses: the CSV import, ``campaign
create`` and activation. Run it again and it does nothing: the demo is created once.
"""

from __future__ import annotations

import csv

import click
from flask.cli import AppGroup

from app.users import create_user
from app.cli.campaign import activate_and_dial
from app.cli.campaign import create as create_campaign_cmd
from app.config import get_settings
from app.db import database
from app.models import Campaign, User

demo_cli = AppGroup("demo", help="The demo campaign against pbxsim.")

DEMO_CAMPAIGN = "Demo campaign"
DEMO_USER, DEMO_PASSWORD = "demo", "callcast-demo"
AREA_CODES = ("202", "312", "415", "617", "718")
# pbxsim's lastdigit callee presses digit+1 for numbers ending 0-3
DEMO_OPTIONS = (
    "1=Confirm the appointment",
    "2=Cancel the appointment",
    "3=Call me back later",
    # a number, dialled through DIAL_TEMPLATE like a contact (no raw dial strings)
    "4=Talk to an agent:transfer:100",
)


def write_demo_csv(path, count: int) -> None:
    """A contact file whose last digits cycle 0-9, so every callee behaviour shows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "phone", "customer_id"])
        for i in range(count):
            area = AREA_CODES[i // 100 % len(AREA_CODES)]
            writer.writerow([f"Demo person {i + 1}", f"+1 {area} 555 01{i % 100:02d}", f"{i + 1:06d}"])


@demo_cli.command("seed")
@click.option("--contacts", type=click.IntRange(10, 500), default=300, show_default=True)
@click.option("--url", default=None, help="console URL to print (default: http://127.0.0.1:WEB_PORT/)")
@click.pass_context
def seed(ctx, contacts, url):
    """Create the demo user and the demo campaign once, and activate it."""
    settings = get_settings()
    url = url or f"http://127.0.0.1:{settings.web_port}/"
    with database.connection_context():
        if not User.select().where(User.username == DEMO_USER).exists():
            create_user(DEMO_USER, "admin", DEMO_PASSWORD)
        existing = Campaign.get_or_none(Campaign.name == DEMO_CAMPAIGN)
    if existing is None:
        csv_path = settings.media_dir.parent / "demo" / "demo-contacts.csv"
        write_demo_csv(csv_path, contacts)
        ctx.invoke(
            create_campaign_cmd,
            name=DEMO_CAMPAIGN,
            csv_path=str(csv_path),
            message_sound="hello-world",
            options=DEMO_OPTIONS,
            windows="daily 00:00-00:00",
            tz_name="UTC",
            max_channels=20,
            attempts=3,
            retry_busy=15,
            retry_noanswer=15,
            retry_failed=15,
            ring_timeout=20,
            max_call=120,
        )
        with database.connection_context():
            campaign = Campaign.get(Campaign.name == DEMO_CAMPAIGN)
        # the PBX starts with the processes: it loads the dialplan file then
        activate_and_dial(campaign.id, reload=False)
        click.echo(f"demo campaign {campaign.id} is ACTIVE with {contacts} contacts")
    else:
        click.echo(f"demo campaign {existing.id} exists already (state {existing.state})")
    click.echo(f"console: {url}  sign in as {DEMO_USER} / {DEMO_PASSWORD}")
