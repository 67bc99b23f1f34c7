"""The outcome codes of a delivery's attempts (the delivery log's `code`), as DownloadCode
is for the download routes: not a mutation's, so beside the domain's codes rather than in
them (PRIVATE_ADDRESS is both: refused at subscription, or found at delivery)."""

from __future__ import annotations

from enum import StrEnum


class DeliveryCode(StrEnum):
    """Why an attempt failed (stable: the delivery log shows them)."""

    HTTP_ERROR = "HTTP_ERROR"  # the receiver answered, not 2xx (status in the log)
    TIMEOUT = "TIMEOUT"  # no full answer within webhook_timeout_seconds
    CONNECTION_FAILED = "CONNECTION_FAILED"  # refused, reset, TLS, DNS at delivery time
    PRIVATE_ADDRESS = "PRIVATE_ADDRESS"  # the host resolved to a non-public address now
    SUBSCRIPTION_DISABLED = "SUBSCRIPTION_DISABLED"  # disabled while the delivery waited
    EMAIL_BOUNCED = "EMAIL_BOUNCED"  # the SMTP server refused the recipient (5xx on RCPT)
    EMAIL_SUPPRESSED = "EMAIL_SUPPRESSED"  # the address bounced before: not tried again
    SMTP_UNAVAILABLE = "SMTP_UNAVAILABLE"  # could not talk to the SMTP server (retried)
    SMTP_REFUSED = "SMTP_REFUSED"  # a 4xx (retried) or a 5xx outside RCPT (final)
