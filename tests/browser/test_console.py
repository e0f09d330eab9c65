"""The supervisor's console in chromium on a running, then closed, pbxsim campaign.

Dashboard, live page and report, in English and in Spanish; their charts draw
points that change over time; axe-core (node_modules, ``scripts/lib.sh``) finds
no serious or critical violation on the main pages; the report PDF holds the
report's figures. Screenshots go to test-artifacts/console-*.png.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from pypdf import PdfReader

from app import presenting
from app.models import Campaign, CampaignReport
from app.web.admin.campaign_ops import run_op
from app.clock import utcnow
from tests.browser.test_full_flow import console, stack  # noqa: F401  (fixtures)
from tests.dialing_support import make_campaign
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(420)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# long enough that the live page sees several polls before the campaign closes
PHONES = [f"+1202555{i:04d}" for i in range(60)]  # E.164; lastdigit: every outcome


def axe_problems(page) -> list[str]:
    """Serious and critical axe-core violations of the page as loaded."""
    assert AXE.is_file(), f"{AXE} missing: scripts/lib.sh ensure_console_assets installs it"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:6]}" for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


def sign_in(page, base):
    page.goto(f"{base}/admin/")
    page.fill("#username", "olivia")
    page.fill("#password", "operator pass 1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def chart_points(page, expression) -> list | None:
    """Each dataset's points of a chart (None while the page is between two loads)."""
    try:
        return page.evaluate(f"(() => {{ const c = {expression}; return c ? c.data.datasets.map(d => d.data.slice()) : null; }})()")
    except PlaywrightError:  # the live page reloads itself once the campaign closes
        return None


def test_the_console_reads_at_a_glance_in_two_languages(console, chromium, stack, artifacts):  # noqa: F811
    campaign = make_campaign(PHONES, name="Console campaign", max_channels=3, max_attempts=2,
                             retry_busy_s=1, retry_noanswer_s=1, retry_failed_s=1, ring_timeout_s=10,
                             digit_timeout_s=2, message_repeats=1, timezone="America/New_York")
    base, problems = console.url, {}
    page = chromium.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
    spanish = chromium.new_page(viewport={"width": 1400, "height": 1000}, locale="es-ES")
    messages = []
    for p in (page, spanish):
        p.set_default_timeout(20_000)
        p.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
        p.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    try:
        page.goto(f"{base}/login")
        problems["login"] = axe_problems(page)
        sign_in(page, base)
        sign_in(spanish, base)
        run_op("activate", campaign.id, utcnow())
        check_dashboard(page, spanish, campaign.id, artifacts, problems)
        check_live_page(page, spanish, base, campaign.id, artifacts, problems)
        check_report(page, spanish, base, campaign.id, artifacts, problems)
        for name, path in (("campaign list", "/admin/campaign/"), ("campaign form", "/admin/campaign/new/"),
                           ("contact lists", "/admin/contactlist/"), ("do-not-call", "/admin/dnc/"),
                           ("operations", "/admin/operations/")):
            page.goto(base + path)
            problems[name] = axe_problems(page)
    except Exception:
        page.screenshot(path=str(artifacts / "console-failure.png"), full_page=True)
        print("browser console:", *messages, sep="\n  ")
        raise
    finally:
        page.close()
        spanish.close()
    found = {k: v for k, v in problems.items() if v}
    assert found == {}, "\n".join(f"{k}: {line}" for k, v in found.items() for line in v)


def check_dashboard(page, spanish, campaign_id, artifacts, problems):
    """The campaign's row, its per-minute chart filling in and changing, the Spanish words."""
    page.wait_for_selector(f"#dash-row-{campaign_id}")
    spark = f"Chart.getChart('dash-spark-{campaign_id}')"
    wait_until(lambda: sum((chart_points(page, spark) or [[0]])[0]) > 0, 120,
               "calls on the dashboard's per-minute chart", interval=0.5)
    first = chart_points(page, spark)
    page.screenshot(path=str(artifacts / "console-dashboard.png"), full_page=True)
    problems["dashboard"] = axe_problems(page)
    spanish.wait_for_selector(f"#dash-row-{campaign_id}")
    assert "Campañas en curso" in spanish.inner_text("body")
    assert "Llamadas por minuto" in spanish.inner_text("#dashboard thead")
    spanish.screenshot(path=str(artifacts / "console-dashboard-es.png"), full_page=True)
    # the page polls every 5 s: the same chart object gets the new minute counts
    wait_until(lambda: chart_points(page, spark) not in (None, first), 60,
               "the dashboard's per-minute chart to change", interval=0.5)


def check_live_page(page, spanish, base, campaign_id, artifacts, problems):
    """The live charts gain points as the polls come in; the settings in words, in Spanish too."""
    page.goto(f"{base}/admin/campaign/details/?id={campaign_id}")
    wait_until(lambda: page.evaluate("window.consoleCharts && window.consoleCharts.channels "
                                     "&& window.consoleCharts.channels.data.labels.length >= 3"),
               60, "three polls on the live charts", interval=0.5)
    channels = chart_points(page, "window.consoleCharts.channels")
    assert channels[1][-1] == 3  # the cap line
    outcomes_before = chart_points(page, "window.consoleCharts.outcomes")
    page.screenshot(path=str(artifacts / "console-live.png"), full_page=True)
    problems["live page"] = axe_problems(page)
    wait_until(lambda: chart_points(page, "window.consoleCharts.outcomes") != outcomes_before,
               90, "the outcomes chart to change", interval=0.5)
    spanish.goto(f"{base}/admin/campaign/details/?id={campaign_id}")
    assert "Llamadas en curso" in spanish.inner_text("body")
    assert "Lunes todo el día" in " ".join(spanish.inner_text("#campaign-windows").split())
    spanish.screenshot(path=str(artifacts / "console-live-es.png"), full_page=True)


def check_report(page, spanish, base, campaign_id, artifacts, problems):
    """Once closed: the report in words, its captions and digit labels, its PDF's figures."""
    page.wait_for_selector("#report-pdf", timeout=240_000)
    assert Campaign.get_by_id(campaign_id).state == "CLOSED"
    data = CampaignReport.get(CampaignReport.campaign == campaign_id).data
    summary = " ".join(page.inner_text("#report-data").split())
    rate = presenting.percent(data["answer_rate"])
    assert f"Answer rate {rate}" in summary and "Answered without a choice" in summary
    assert "time zone America/New_York" in page.inner_text("#caption-calls_per_hour")
    digits = " ".join(page.inner_text("#report-digits").split())
    assert "1 option 1" in digits and "Answered without a choice" in digits
    page.screenshot(path=str(artifacts / "console-report.png"), full_page=True)
    problems["report"] = axe_problems(page)
    with page.expect_download() as download:
        page.click("#report-pdf")
    pdf = Path(download.value.path()).read_bytes()
    (artifacts / "console-report.pdf").write_bytes(pdf)
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    assert f"Answer rate {rate}" in text and f"Contacts {data['contacts']}" in text
    spanish.goto(f"{base}/admin/campaign/details/?id={campaign_id}")
    assert "Tasa de respuesta" in spanish.inner_text("#report-data")
    spanish.screenshot(path=str(artifacts / "console-report-es.png"), full_page=True)
