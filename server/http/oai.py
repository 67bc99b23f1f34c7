"""GET and POST /oai: the OAI-PMH endpoint (server/publishing/oai.py), its arguments from
the query string (GET) or the form-encoded body (POST), its answer streamed as XML."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from functools import partial
from urllib.parse import parse_qsl

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from server.core.config import Settings
from server.core.url_signing import UrlSigner
from server.http.forwarded import base_url
from server.publishing.oai import TOKEN_SPACE, Repository, respond

FORM = "application/x-www-form-urlencoded"


def repository(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], signer: UrlSigner
) -> Repository:
    return Repository(
        sessions=sessions,
        sign=partial(signer.mac, TOKEN_SPACE),
        name=settings.oai_repository_name,
        admin_email=settings.oai_admin_email,
        namespace=settings.oai_repository_identifier,
        page_size=settings.oai_page_size,
        token_lifetime=dt.timedelta(hours=settings.oai_token_hours),
    )


def oai_endpoint(repo: Repository) -> Callable[[Request], Awaitable[Response]]:
    async def oai(request: Request) -> Response:
        query = request.scope.get("query_string", b"").decode("latin-1")
        if request.method == "POST":
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != FORM:
                return PlainTextResponse(f"send the arguments as {FORM}", status_code=415)
            query = (await request.body()).decode("utf-8", errors="replace")
        pairs = parse_qsl(query, keep_blank_values=True)
        return StreamingResponse(
            respond(repo, pairs, base_url(request.scope)),
            media_type="text/xml; charset=utf-8",
        )

    return oai


def oai_route(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], signer: UrlSigner
) -> Route:
    """`/oai`, by GET and by form-encoded POST, as the protocol asks."""
    endpoint = oai_endpoint(repository(settings, sessions, signer))
    return Route("/oai", endpoint, methods=["GET", "POST"])
