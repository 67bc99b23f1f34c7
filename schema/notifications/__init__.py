"""Notifications: webhooks, their delivery log, e-mail preferences."""

from schema.notifications.mutations import NotificationMutations
from schema.notifications.queries import NotificationQueries

__all__ = ["NotificationMutations", "NotificationQueries"]
