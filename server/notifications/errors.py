"""The notification domain's codes: a mutation's refusals (the outcome codes of a
delivery's attempts are DeliveryCode, server/notifications/delivery_codes.py)."""

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
