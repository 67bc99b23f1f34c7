"""Notification e-mail through SMTP (aiosmtplib).

A recipient refused with a 5xx reply to RCPT is a bounce: the delivery fails with
EMAIL_BOUNCED and the account's address is marked bounced, so no further mail goes to it
until the account sets its address again (setNotificationPreferences). A 4xx reply or a
server that cannot be reached is transient: the delivery is tried again with backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from server.core.config import Settings
from server.notifications.delivery_codes import DeliveryCode

KEPT = 1024


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    language: str
    delivery_id: str
    event: str


@dataclass(frozen=True)
class MailOutcome:
    ok: bool
    code: str | None = None
    status: int | None = None
    response: str | None = None
    final: bool = False  # no retry: a bounce or a permanent refusal


def message_of(settings: Settings, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{mail.delivery_id}@satreps-hub>"
    message["X-Satreps-Event"] = mail.event
    message["X-Satreps-Delivery"] = mail.delivery_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text, charset="utf-8")
    message["Content-Language"] = mail.language  # after: set_content resets Content-*
    return message


async def send(settings: Settings, mail: Mail) -> MailOutcome:
    assert settings.smtp_host, "e-mail deliveries exist only with SATREPS_SMTP_HOST set"
    try:
        errors, reply = await aiosmtplib.send(
            message_of(settings, mail),
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() or None,
            use_tls=settings.smtp_tls == "tls",
            start_tls=True if settings.smtp_tls == "starttls" else False,
            timeout=settings.smtp_timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as refused:
        first = refused.recipients[0]
        text = f"{first.code} {first.message}"[:KEPT]
        if first.code >= 500:
            return MailOutcome(False, DeliveryCode.EMAIL_BOUNCED, first.code, text, final=True)
        return MailOutcome(False, DeliveryCode.SMTP_REFUSED, first.code, text)
    except aiosmtplib.SMTPResponseException as error:
        text = f"{error.code} {error.message}"[:KEPT]
        return MailOutcome(False, DeliveryCode.SMTP_REFUSED, error.code, text, error.code >= 500)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        text = f"{type(error).__name__}: {error}"[:KEPT]
        return MailOutcome(False, DeliveryCode.SMTP_UNAVAILABLE, None, text)
    return MailOutcome(True, None, 250, reply[:KEPT])
