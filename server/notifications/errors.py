"""The notification domain's codes: a mutation's refusals, and the outcome codes of a
delivery's attempts (the delivery log's `code`)."""

from __future__ import annotations

from enum import StrEnum


class NotificationErrorCode(StrEnum):
    URL_SCHEME_NOT_ALLOWED = "URL_SCHEME_NOT_ALLOWED"  # a webhook URL that is not http(s)
    PRIVATE_ADDRESS = "PRIVATE_ADDRESS"  # resolves to a non-public address (SSRF)
    UNRESOLVABLE_HOST = "UNRESOLVABLE_HOST"  # its host has no address
    UNKNOWN_EVENT = "UNKNOWN_EVENT"  # not in server.notifications.events.EVENTS
    ONE_TARGET = "ONE_TARGET"  # a subscription is for a project or an institution, one
    WEBHOOK_DISABLED = "WEBHOOK_DISABLED"  # redeliver to a disabled subscription
    NOT_A_WEBHOOK_DELIVERY = "NOT_A_WEBHOOK_DELIVERY"  # redeliverWebhook on an e-mail
    DELIVERY_IN_FLIGHT = "DELIVERY_IN_FLIGHT"  # redeliver one that is still pending
    INVALID_MODE = "INVALID_MODE"  # an e-mail preference that is not each, digest or none


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
