"""A closed campaign's report as a PDF: the summary in words, the charts, the settings.

Rendered with fpdf2 (pure Python) in DejaVu Sans, the TrueType font matplotlib
ships, so accents, "–" and "—" print in any language. The charts are the PNGs
finalization wrote; the words are ``app.presenting``'s, in the language asked.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from app import presenting
from app.errors import NotFoundError
from app.models import CLOSED, CallWindow, Campaign, CampaignOption, CampaignReport

CHART_ORDER = ("outcomes", "digits", "answered_per_attempt", "attempts_histogram", "calls_per_hour")


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _Pdf(FPDF):
    def __init__(self, footer_text: str, created):
        super().__init__(format="A4")
        self._footer_text = footer_text
        fonts = _font_dir()
        self.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(True, margin=15)
        # the campaign's close, not now: the same report gives the same document
        if created is not None:
            self.set_creation_date(created)

    def footer(self):
        self.set_y(-12)
        self.set_font("DejaVu", "", 8)
        self.cell(0, 6, f"{self._footer_text} — {self.page_no()}", align="C")

    def heading(self, text: str, size: int = 13):
        self.ln(2)
        self.set_font("DejaVu", "B", size)
        self.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        self.set_font("DejaVu", "", 10)

    def pairs(self, rows):
        """Two-column rows: label, value."""
        width = self.epw
        with self.table(col_widths=(width * 0.45, width * 0.55), first_row_as_headings=False,
                        line_height=6, text_align=("LEFT", "LEFT")) as table:
            for row in rows:
                cells = table.row()
                for cell in row:
                    cells.cell(str(cell))


def report_pdf(campaign_id: int, locale: str = presenting.DEFAULT_LOCALE) -> bytes:
    """The PDF bytes of a closed campaign's report.

    Raises:
        NotFoundError: no such campaign, or its report is not written yet.
    """
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    row = CampaignReport.get_or_none(CampaignReport.campaign == campaign_id)
    data = (row.data or {}) if row is not None else {}
    if campaign is None or campaign.state != CLOSED or "contacts" not in data:
        raise NotFoundError(f"campaign {campaign_id} has no report yet")
    _ = presenting.translations(locale).gettext
    pdf = _Pdf(f"Callcast — {campaign.name}", campaign.closed_at)
    pdf.add_page()
    pdf.heading(_("Campaign report: %(name)s") % {"name": campaign.name}, 16)
    zone = campaign.timezone
    pdf.pairs([(_("Time zone"), zone)] + [
        (_(label), presenting.local_time(value, zone, locale))
        for label, value in (("Activated", campaign.activated_at), ("Finished", campaign.finished_at),
                             ("Closed", campaign.closed_at)) if value is not None
    ])
    pdf.heading(_("Summary"))
    pdf.pairs(presenting.report_summary(data, locale))
    pdf.heading(_("Final outcome"))
    pdf.pairs([(presenting.outcome_label(k, locale), presenting.number(v, locale))
               for k, v in data.get("outcomes", {}).items() if v])
    pdf.heading(_("Choices"))
    pdf.pairs([(f"{digit}  {label}", count) for digit, label, count in presenting.digit_rows(data, locale)])
    _settings(pdf, campaign, locale, _)
    _charts(pdf, row.charts or {}, presenting.chart_captions(data, locale))
    return bytes(pdf.output())


def _settings(pdf: _Pdf, campaign, locale: str, _) -> None:
    pdf.heading(_("Settings"))
    options = list(campaign.options.order_by(CampaignOption.digit))
    windows = list(campaign.windows.order_by(CallWindow.weekday, CallWindow.starts))
    pdf.pairs([
        (_("Channels"), campaign.max_channels),
        (_("Retries"), presenting.retry_sentence(campaign, locale)),
        (_("Menu"), "\n".join(presenting.menu_preview(options, locale)) or "-"),
    ])
    pdf.heading(_("Call windows") + f" ({campaign.timezone})", 11)
    pdf.pairs(presenting.window_lines(windows, locale))


def _charts(pdf: _Pdf, charts: dict, captions: dict) -> None:
    names = [n for n in CHART_ORDER if n in charts] + sorted(set(charts) - set(CHART_ORDER))
    for name in names:
        path = Path(charts[name])
        if not path.is_file():
            continue
        if pdf.get_y() > pdf.h - 120:
            pdf.add_page()
        pdf.image(str(path), w=pdf.epw * 0.8, x=pdf.l_margin + pdf.epw * 0.1)
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(0, 5, captions.get(name, name), align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)


def attach_pdf(message, campaign_id: int, max_bytes: int) -> bool:
    """Attach the report's PDF to an ``EmailMessage`` when there is one within ``max_bytes``."""
    try:
        pdf = report_pdf(campaign_id)
    except NotFoundError:
        return False
    if len(pdf) > max_bytes:
        return False
    message.add_attachment(pdf, maintype="application", subtype="pdf",
                           filename=f"campaign-{campaign_id}-report.pdf")
    return True
