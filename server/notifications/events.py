"""The events one may emit, and `emit`: an outbox row in the caller's transaction.

    emit(session, "upload.ready", project_id=.., dataset_id=.., upload_id=..,
         payload={...})

writes nothing else and commits nothing: the caller's commit makes the event real, its
rollback leaves nothing. The dispatcher (server/notifications/dispatch.py) fans it out to
the matching webhook subscriptions (the subject project's and institution's) and e-mails
the accounts concerned: those listed in `recipients` when given, else the accounts of the
project's members and of the subject institution, each per their preference.

Every name must be registered in EVENTS (its e-mail's subject and text are gettext
messages of the `notifications` catalogue; a placeholder is filled from the payload, the
subject ids and `title`). Access events (part A of issue 24) use the five `access.*` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server.core.errors import DomainError
from server.notifications.errors import NotificationErrorCode


def N_(message: str) -> str:
    """Marks a message for extraction (pybabel -k N_); translated when a mail is written."""
    return message


@dataclass(frozen=True)
class EventKind:
    name: str
    subject: str  # msgid, with {placeholders}
    body: str  # msgid


_KINDS = [
    EventKind(
        "upload.ready",
        N_("File {filename} is ready"),
        N_("The upload of {filename} to dataset {dataset_id} was processed and is ready."),
    ),
    EventKind(
        "upload.failed",
        N_("File {filename} failed"),
        N_("The upload of {filename} to dataset {dataset_id} failed: {code}."),
    ),
    EventKind(
        "upload.quarantined",
        N_("File {filename} was quarantined"),
        N_("The virus scan found {signature} in {filename}; the file was quarantined."),
    ),
    EventKind(
        "version.published",
        N_("Version {number} of dataset {dataset_id} was published"),
        N_("Version {number} of dataset {dataset_id} is published and can be cited."),
    ),
    EventKind(
        "project.phase_changed",
        N_("Project {project_id} moved to {to_phase}"),
        N_("Project {project_id} moved from {from_phase} to {to_phase}."),
    ),
    EventKind(
        "dataset.embargo_lifted",
        N_("The embargo on dataset {dataset_id} ended"),
        N_("The embargo on dataset {dataset_id} ended on {until}; it is public now."),
    ),
    EventKind(
        "access.requested",
        N_("Access to dataset {dataset_id} was requested"),
        N_("Someone asked for access to dataset {dataset_id}; the request waits for a decision."),
    ),
    EventKind(
        "access.approved",
        N_("Access to dataset {dataset_id} was approved"),
        N_("Your request for access to dataset {dataset_id} was approved."),
    ),
    EventKind(
        "access.denied",
        N_("Access to dataset {dataset_id} was denied"),
        N_("Your request for access to dataset {dataset_id} was denied."),
    ),
    EventKind(
        "access.expiring",
        N_("Access to dataset {dataset_id} expires soon"),
        N_("Your access to dataset {dataset_id} expires soon."),
    ),
    EventKind(
        "access.revoked",
        N_("Access to dataset {dataset_id} was revoked"),
        N_("Your access to dataset {dataset_id} was revoked."),
    ),
    EventKind(
        "webhook.disabled",
        N_("Webhook {subscription_id} was disabled"),
        N_("The webhook to {url} was disabled: {reason}"),
    ),
]
EVENTS: dict[str, EventKind] = {kind.name: kind for kind in _KINDS}


def check_event(name: str, field: str = "event") -> EventKind:
    kind = EVENTS.get(name)
    if kind is None:
        raise DomainError.one(
            NotificationErrorCode.UNKNOWN_EVENT,
            f"unknown event {name[:64]!r}; known: {', '.join(EVENTS)}",
            field,
        )
    return kind


def emit(
    session: AsyncSession | Session,
    event: str,
    *,
    project_id: int | None = None,
    institution_id: int | None = None,
    dataset_id: int | None = None,
    upload_id: int | None = None,
    recipients: list[int] | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Add the event's outbox row to the session (flushed and committed with the caller's
    work). `payload` must be JSON; an unknown name raises DomainError UNKNOWN_EVENT."""
    from server.models import OutboxEvent

    check_event(event)
    session.add(
        OutboxEvent(
            event=event,
            project_id=project_id,
            institution_id=institution_id,
            dataset_id=dataset_id,
            upload_id=upload_id,
            recipients=recipients,
            payload=payload or {},
        )
    )
