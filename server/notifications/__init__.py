"""Notifications: the outbox (emit), webhooks and e-mail, delivered by the dispatcher."""
