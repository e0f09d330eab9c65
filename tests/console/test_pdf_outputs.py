"""The report PDF from the CLI and in the campaign-closed mail (MAIL_ATTACH_PDF=1)."""

from __future__ import annotations

import io

from pypdf import PdfReader

from app.outbound.dispatch import dispatch
from app.outbound.mail import send_mail
from tests.console.test_report_words import closed_campaign
from tests.outbound.conftest import outbound_env  # noqa: F401
from tests.outbound.receivers import SmtpSink
from tests.outbound.test_campaign_mail import NOW, smtp


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages)


def test_the_cli_writes_the_pdf_in_the_language_asked(db, app, tmp_path):
    campaign = closed_campaign()
    runner = app.test_cli_runner()
    path = tmp_path / "report.pdf"
    result = runner.invoke(args=["campaign", "report", str(campaign.id), "--pdf", str(path), "--lang", "es"])
    assert result.exit_code == 0, result.output
    assert "Tasa de respuesta 50 %" in pdf_text(path.read_bytes())
    refused = runner.invoke(args=["campaign", "report", str(campaign.id), "--pdf", str(path), "--json"])
    assert refused.exit_code == 2 and "exclusive" in refused.output
    missing = runner.invoke(args=["campaign", "report", "999999", "--pdf", str(path)])
    assert missing.exit_code == 1 and "999999" in missing.output


def test_the_closed_mail_attaches_the_pdf_when_asked(db, outbound_env, tmp_path):  # noqa: F811
    with SmtpSink() as sink:
        settings = smtp(outbound_env, tmp_path, sink.port, MAIL_ATTACH_PDF="1")
        campaign = closed_campaign()
        (mail_id,) = dispatch(NOW).mails
        send_mail(mail_id, NOW, settings)
    (_rcpt, message), = sink.messages
    csv, pdf = list(message.iter_attachments())
    assert csv.get_content_type() == "text/csv"
    assert pdf.get_filename() == f"campaign-{campaign.id}-report.pdf"
    assert pdf.get_content_type() == "application/pdf"
    assert "Answer rate 50 %" in pdf_text(pdf.get_payload(decode=True))
