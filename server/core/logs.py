"""Structured logs: one JSON object per line, with the request id and the GraphQL operation
of the request (or the job) that wrote them.

The request middleware (server/http/middleware.py) and the job wrapper (workers/instrument.py)
set the context variables; every log record picks them up through a filter, whoever logs
(our code, SQLAlchemy, strawberry, uvicorn, arq).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import logging.config
import os
import re
import uuid
from contextvars import ContextVar
from typing import Any

from server.core.config import Settings

request_id_var: ContextVar[str | None] = ContextVar("satreps_request_id", default=None)
operation_var: ContextVar[str | None] = ContextVar("satreps_operation", default=None)
job_id_var: ContextVar[str | None] = ContextVar("satreps_job_id", default=None)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
# attributes every LogRecord has; anything else was passed with `extra=` and is logged too
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class _RequestIds:
    """New request ids: 32 hex digits, 80 random bits drawn once per process (again in a
    forked child) and a 48-bit counter: unique across processes, and without a uuid4's
    system call and object for every request."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self.prefix = uuid.uuid4().hex[:20]
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFF:012x}"


_IDS = _RequestIds()


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new one."""
    if header and _REQUEST_ID.match(header):
        return header
    return _IDS.next()


class ContextFilter(logging.Filter):
    """Stamps each record with the current request id, operation and job id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.operation = operation_var.get()
        record.job_id = job_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(operation)s]: %(message)s"


def logging_config(settings: Settings) -> dict[str, Any]:
    """A logging.config.dictConfig for our processes and the servers inside them (uvicorn
    takes it as `log_config`): everything to stderr, in the chosen format."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if settings.log_format == "json" else {"format": TEXT_FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "main",
        "filters": ["context"],
    }
    level = settings.log_level
    quiet: dict[str, Any] = {"level": level, "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"level": level, "handlers": ["main"]},
        "loggers": {
            # uvicorn's own configuration would add handlers and colours: route all to root
            "uvicorn": quiet,
            "uvicorn.error": quiet,
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            "arq": quiet,
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
