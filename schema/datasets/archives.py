"""A whole version, or the files under a prefix, for download: versionDownload gives the
archive's signed URL (a streamed ZIP, or a BagIt bag in one) and each readable file's own
URL, with what was left out and why. `satreps download` uses the files' URLs."""

from __future__ import annotations

import datetime as dt

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id
from schema.context import Info
from schema.datasets.types import DatasetError
from schema.payloads import payload
from schema.scalars import Long
from server.access.auth import Principal
from server.datasets import archives
from server.datasets.archives import ArchiveFormat as ArchiveFormatEnum
from server.datasets.archives import LeftOutCode as LeftOutCodeEnum

ArchiveFormat = strawberry.enum(
    ArchiveFormatEnum,
    name="ArchiveFormat",
    description="ZIP: the files with manifest-sha256.txt, ro-crate-metadata.json and"
    " prov.json beside them; BAGIT: a BagIt 1.0 bag in the ZIP (the files under data/)",
)
LeftOutCode = strawberry.enum(
    LeftOutCodeEnum,
    name="LeftOutCode",
    description="Why a download leaves a file out: FORBIDDEN (you may not read it),"
    " FIXITY_FAILED (its stored copy failed its fixity check: not served)",
)


@strawberry.input(description="Which version, which of its files, in which form")
class VersionDownloadInput:
    version_id: strawberry.ID
    prefix: str | None = strawberry.field(
        default=None, description="Only the files whose path starts with this"
    )
    format: ArchiveFormat = ArchiveFormatEnum.ZIP  # type: ignore[valid-type]


@strawberry.type(description="A file of the download: its own URL and what it must hash to")
class DownloadFile:
    path: str
    size: Long
    sha256: str
    url: str


@strawberry.type(description="A file of the version that the download leaves out, and why")
class LeftOutFile:
    path: str
    code: LeftOutCode  # type: ignore[valid-type]
    message: str


@strawberry.type(description="A version (or a prefix of it) to download, until expiresAt")
class VersionDownload:
    archive_url: str = strawberry.field(description="The streamed archive (GET or HEAD)")
    expires_at: dt.datetime
    file_count: int
    byte_size: Long = strawberry.field(description="The files' bytes (not the archive's)")
    files: list[DownloadFile]
    left_out: list[LeftOutFile]


@strawberry.type(description="The download, or the errors that refused it")
class VersionDownloadPayload:
    download: VersionDownload | None = None
    errors: list[DatasetError] = strawberry.field(default_factory=list)


@strawberry.type
class ArchiveMutations:
    @strawberry.mutation(
        description="A version's files for download: one archive URL and one URL per file,"
        " only the files you may read (the rest listed in leftOut and in the archive's"
        " manifest). Needs the read scope; audited."
    )
    async def version_download(
        self, info: Info, input: VersionDownloadInput
    ) -> VersionDownloadPayload:
        ctx = info.context
        lifetime = dt.timedelta(minutes=ctx.settings.download_url_minutes)

        async def op(session: AsyncSession, principal: Principal) -> archives.VersionDownload:
            found = await archives.issue_version_download(
                session,
                principal,
                ctx.store,
                ctx.signer,
                decode_id(input.version_id, "DatasetVersion", "versionId"),
                prefix=input.prefix,
                fmt=ArchiveFormatEnum(input.format),
                namespace=ctx.settings.prov_namespace,
                lifetime=lifetime,
            )
            # it only read: end the read before the audit row is written, or on SQLite a
            # write committed meanwhile (a large version's plan takes seconds) leaves this
            # transaction a stale snapshot that cannot become a write (database is locked)
            await session.commit()
            return found

        def done(found: archives.VersionDownload) -> VersionDownloadPayload:
            plan = found.plan
            return VersionDownloadPayload(
                download=VersionDownload(
                    archive_url=found.archive_url,
                    expires_at=found.expires_at,
                    file_count=len(plan.entries),
                    byte_size=Long(plan.byte_size),
                    files=[
                        DownloadFile(path=f.path, size=Long(f.size), sha256=f.sha256, url=f.url)
                        for f in found.files
                    ],
                    left_out=[
                        LeftOutFile(path=x.path, code=LeftOutCodeEnum(x.code), message=x.message)
                        for x in plan.left_out
                    ],
                )
            )

        return await payload(info, op, VersionDownloadPayload, done, scope="read")
