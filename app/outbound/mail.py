"""The campaign-closed mail: to its creator and MAIL_TO, the report summary, the CSV.

The CSV is attached up to MAIL_ATTACH_MAX_BYTES; a larger one is linked
(PUBLIC_URL + the console's download path). SMTP_HOST empty: no mail is queued.
A send is at least once: a worker that dies after the server accepted the mail
and before the row says so sends it again when its lease runs out.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from app.config import get_settings
from app.envreaders import EMAIL_RE
from app.db import database
from app.models import Campaign, CampaignReport, User
from app.outbound import attempts
from app.outbound.tables import PENDING, MailMessage
from app.reports import format_report
from app.reports_pdf import attach_pdf

log = logging.getLogger(__name__)


def recipients_of(campaign_id: int, settings) -> list[str]:
    """The creator's address (when they have one) and MAIL_TO, each once."""
    owner = (User.select(User.email).join(Campaign, on=(Campaign.created_by == User.id))
             .where(Campaign.id == campaign_id).first())
    found = ([owner.email] if owner is not None and owner.email else []) + list(settings.mail_to)
    # an address written around the console's form (a shell, the API) is checked here too
    return [a for a in dict.fromkeys(found) if EMAIL_RE.match(a)]


def queue_mail(campaign_id: int, settings, now) -> int | None:
    """Write the closed campaign's mail row (once per campaign); its id, or None when no mail."""
    if not settings.smtp_host:
        return None
    to = recipients_of(campaign_id, settings)
    if not to:
        log.info("campaign=%s closed: no mail recipient (creator without e-mail, MAIL_TO empty)",
                 campaign_id)
        return None
    if MailMessage.select().where(MailMessage.campaign_id == campaign_id).exists():
        return None  # one mail per campaign
    name = Campaign.select(Campaign.name).where(Campaign.id == campaign_id).scalar() or ""
    name = " ".join(name.split())  # a header is one line, whatever the name holds
    return MailMessage.insert(
        campaign_id=campaign_id, recipients=", ".join(to)[:1000],
        subject=f"Campaign {campaign_id} closed: {name}"[:300], status=PENDING, attempts=0,
        next_attempt_at=now, created_at=now,
    ).execute()


def compose(mail: MailMessage, settings) -> EmailMessage:
    """The message: the report as text, the CSV attached or linked."""
    report = CampaignReport.get_or_none(CampaignReport.campaign == mail.campaign_id)
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.recipients
    message["Subject"] = mail.subject
    summary = format_report(report.data) if report and report.data.get("contacts") is not None \
        else "The report is not available."
    csv = Path(report.csv_path) if report and report.csv_path else None
    link = f"{settings.public_url}/admin/campaign/report/{mail.campaign_id}.csv"
    if csv is not None and csv.is_file() and csv.stat().st_size <= settings.mail_attach_max_bytes:
        message.set_content(f"{summary}\n\nThe per-contact results are attached (CSV).\n")
        message.add_attachment(csv.read_bytes(), maintype="text", subtype="csv",
                               filename=f"campaign-{mail.campaign_id}-report.csv")
    elif csv is not None and settings.public_url:
        message.set_content(f"{summary}\n\nThe per-contact results (CSV): {link}\n")
    else:
        message.set_content(f"{summary}\n\nThe per-contact results are in the console.\n")
    if settings.mail_attach_pdf:
        attach_pdf(message, mail.campaign_id, settings.mail_attach_max_bytes)
    return message


def send(message: EmailMessage, settings) -> None:
    """Hand ``message`` to the SMTP server. Raises: OSError, smtplib.SMTPException."""
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout
    if settings.smtp_security == "ssl":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if settings.smtp_security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password)
        client.send_message(message)


def send_mail(mail_id: int, now, settings=None) -> attempts.Claim:
    """One attempt to send a mail row, unless it is sent, failed, early or being sent."""
    settings = settings or get_settings()
    claimed = attempts.claim(MailMessage, mail_id, now,
                             lease_seconds=settings.smtp_timeout * 4 + 30)
    if claimed.action != attempts.SENT:
        return claimed
    error = ""
    try:
        send(compose(claimed.row, settings), settings)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.warning("mail=%s campaign=%s attempt %s failed: %s", mail_id,
                    claimed.row.campaign_id, claimed.row.attempts + 1, error)
    with database.atomic():
        done = attempts.settle(MailMessage, claimed, not error, error, now,
                               settings.mail_max_attempts,
                               (settings.webhook_backoff_ms, settings.webhook_backoff_max_ms),
                               sent_at=now)
    log.info("mail=%s campaign=%s to=%s attempt=%s -> %s", mail_id, claimed.row.campaign_id,
             claimed.row.recipients, claimed.row.attempts + 1, done.action)
    return done
