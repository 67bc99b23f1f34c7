"""GET and HEAD /archives/{key}: a version's archive (ZIP or BagIt-in-ZIP) streamed by the
server, through the signed URL `versionDownload` issued (the URL is the capability: its
plan, kept in the provenance bucket, says which files the caller could read).

A file whose fixity check failed since the URL was issued is left out, and said so in the
manifest. The archive is not byte-for-byte the same twice (its dates), so a Range is
ignored (`Accept-Ranges: none`, 200): `satreps download` resumes file by file instead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server.core.errors import DomainError
from server.core.url_signing import UrlSigner
from server.datasets.archives import BATCH, PREFIX, ArchivePlan, Entry, LeftOut
from server.datasets.downloads import DownloadCode, refuse_failed_fixity
from server.datasets.zipping import build_archive
from server.http.exports import error_response, refused_url
from server.http.guard import Guard
from server.models import DatasetFile
from server.storage import ObjectNotFound, ObjectStore, content_disposition


async def _current(
    sessions: async_sessionmaker[AsyncSession], plan: ArchivePlan
) -> tuple[list[Entry], list[LeftOut]]:
    """The plan's files as they stand: one gone (a draft's file removed) or failed since
    is left out, with its code."""
    rows: dict[int, DatasetFile] = {}
    ids = [e.file_id for e in plan.entries]
    async with sessions() as session:
        for start in range(0, len(ids), BATCH):
            found = await session.scalars(
                select(DatasetFile).where(DatasetFile.id.in_(ids[start : start + BATCH]))
            )
            rows.update((row.id, row) for row in found)
    entries, left_out = [], list(plan.left_out)
    for entry in plan.entries:
        row = rows.get(entry.file_id)
        if row is None or row.raw_key != entry.raw_key:
            left_out.append(LeftOut(entry.path, DownloadCode.NOT_FOUND, "no longer in the version"))
            continue
        try:
            refuse_failed_fixity(row)
        except DomainError as error:
            left_out.append(LeftOut(entry.path, error.details[0].code, error.details[0].message))
            continue
        entries.append(entry)
    return entries, left_out


def archive_endpoint(
    sessions: async_sessionmaker[AsyncSession], store: ObjectStore, signer: UrlSigner, guard: Guard
) -> Callable[[Request], Awaitable[Response]]:
    async def get(request: Request) -> Response:
        key = PREFIX + str(request.path_params["key"])
        if refusal := refused_url(request, key, signer.verify_archive, "an archive"):
            return refusal
        try:
            plan = ArchivePlan.from_json(await store.get_bytes(store.buckets.provenance, key))
        except ObjectNotFound:
            return error_response(404, DownloadCode.NOT_FOUND, "archive not found")
        entries, left_out = await _current(sessions, plan)

        async def corrupt(entry: Entry, result: str) -> None:
            await guard.record_failure(entry.raw_key, result)

        archive = build_archive(store, plan, entries=entries, left_out=left_out, on_corrupt=corrupt)
        headers = {
            "Content-Length": str(archive.size),
            "Content-Disposition": content_disposition(archive.filename),
            "Cache-Control": "private, no-store",
            "Accept-Ranges": "none",
        }
        if request.method == "HEAD":
            await archive.chunks.aclose()  # type: ignore[attr-defined]
            return Response(headers=headers, media_type="application/zip")
        return StreamingResponse(archive.chunks, headers=headers, media_type="application/zip")

    return get
