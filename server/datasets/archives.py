"""A whole version (or the files under a prefix of their paths) for download: which files
the caller may read, which are left out and why, and the version's RO-Crate and PROV
metadata restricted to what goes in. The plan is kept in the provenance bucket
(`archives/...json`) and the server's signed URL of the archive names it: the stream
(server/datasets/zipping.py, served by server/http/archives.py) is built from the plan,
so it holds exactly what the caller was allowed when the URL was issued.

A file's path in the archive is its name, sanitised (when files gain folders, their
relative path)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.visibility import readable_file_ids
from server.core.errors import DomainError, ErrorCode
from server.core.url_signing import UrlSigner
from server.datasets.downloads import refuse_failed_fixity
from server.datasets.errors import DatasetErrorCode
from server.models import Dataset, DatasetFile
from server.models.enums import AccessLevel
from server.provenance import ExportFormat
from server.provenance import export as exports
from server.provenance.documents import CRATE_FILE, PROV_FILE, prov_document, serialize_prov
from server.storage import ObjectStore, StorageError, UnsupportedOperation, sanitize_filename

PREFIX = "archives/"
MAX_PREFIX = 1024
MANIFEST = "manifest-sha256.txt"
BATCH = 1000  # ids in one IN (...)
CRATE = CRATE_FILE
PROV = PROV_FILE
# the archive's own files, beside the data in a ZIP (a bag's are beside data/)
RESERVED = (MANIFEST, CRATE, PROV, "bagit.txt", "bag-info.txt", "tagmanifest-sha256.txt")


class ArchiveFormat(StrEnum):
    ZIP = "ZIP"  # the files at the top, the manifest and the metadata beside them
    BAGIT = "BAGIT"  # a BagIt 1.0 bag (RFC 8493) in the ZIP: the files under data/


@dataclass(frozen=True)
class Entry:
    file_id: int
    path: str
    size: int
    sha256: str
    raw_key: str


class LeftOutCode(StrEnum):
    """Why a download leaves a file of the version out (versionDownload's `leftOut`, the
    archive's manifest): an SDL enum, its values the codes' strings."""

    FORBIDDEN = ErrorCode.FORBIDDEN.value  # the caller may not read its data
    FIXITY_FAILED = DatasetErrorCode.FIXITY_FAILED.value  # its stored copy failed its check


@dataclass(frozen=True)
class LeftOut:
    path: str
    code: str  # a LeftOutCode's value (the plan is kept as JSON)
    message: str


@dataclass
class ArchivePlan:
    version_id: int
    name: str  # of the archive, without .zip
    format: ArchiveFormat
    prefix: str
    entries: list[Entry]
    left_out: list[LeftOut]
    crate: str  # ro-crate-metadata.json
    prov: str  # prov.json
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes) -> ArchivePlan:
        raw: dict[str, Any] = json.loads(body)
        raw["format"] = ArchiveFormat(raw["format"])
        raw["entries"] = [Entry(**e) for e in raw["entries"]]
        raw["left_out"] = [LeftOut(**e) for e in raw["left_out"]]
        return cls(**raw)

    @property
    def byte_size(self) -> int:
        return sum(e.size for e in self.entries)


@dataclass(frozen=True)
class FileTicket:
    path: str
    size: int
    sha256: str
    url: str


@dataclass(frozen=True)
class VersionDownload:
    plan: ArchivePlan
    archive_url: str
    expires_at: dt.datetime
    files: list[FileTicket]


def check_prefix(prefix: str | None) -> str:
    value = prefix or ""
    if len(value) > MAX_PREFIX or "\x00" in value:
        raise DomainError.one(
            ErrorCode.TOO_LONG if len(value) > MAX_PREFIX else ErrorCode.INVALID_TEXT,
            f"a prefix is at most {MAX_PREFIX} characters, without NUL",
            "prefix",
        )
    return value


def archive_path(name: str) -> str:
    """A file's path inside the archive: each segment sanitised (no absolute path, no `..`,
    no control character, none Windows refuses)."""
    segments = [s for s in name.split("/") if s not in ("", ".", "..")]
    return "/".join(sanitize_filename(s) for s in segments) or "file"


def unique_path(path: str, taken: set[str]) -> str:
    """`path`, or `stem~N.ext` when another file (or the archive's own metadata) has it;
    compared without case, as the file systems that fold it would."""
    candidate, n = path, 1
    while candidate.casefold() in taken:
        n += 1
        head, slash, leaf = path.rpartition("/")
        stem, dot, ext = leaf.rpartition(".")
        leaf = f"{stem}~{n}.{ext}" if dot and stem else f"{leaf}~{n}"
        candidate = head + slash + leaf
    taken.add(candidate.casefold())
    return candidate


def _refusal(file: DatasetFile, dataset: Dataset, readable: bool) -> LeftOut | None:
    path = archive_path(file.path)
    if not readable:
        if dataset.access_level == AccessLevel.EMBARGOED:
            why = f"embargoed until {dataset.embargo_until}"
        else:
            why = f"access is {dataset.access_level.value.lower()}: you may not read its data"
        return LeftOut(path, LeftOutCode.FORBIDDEN.value, why)
    try:
        refuse_failed_fixity(file)
    except DomainError as error:
        code = LeftOutCode(error.details[0].code)  # FIXITY_FAILED, the one code it raises
        return LeftOut(path, code.value, error.details[0].message)
    return None


async def plan_archive(
    session: AsyncSession,
    principal: Principal,
    version_id: int,
    *,
    prefix: str | None,
    fmt: ArchiveFormat,
    namespace: str,
    raw_bucket: str,
) -> ArchivePlan:
    """What the caller gets of the version: NotFound when they may not see it at all."""
    if not principal.has_scope("read"):
        raise DomainError.one(ErrorCode.INSUFFICIENT_SCOPE, "this token lacks the read scope")
    start = check_prefix(prefix)
    found = await exports.bundle(session, principal, version_id)
    files = [f for f in found.files if f.path.startswith(start)]
    readable: set[int] = set()
    for start_at in range(0, len(files), BATCH):
        batch = [f.id for f in files[start_at : start_at + BATCH]]
        readable.update(await readable_file_ids(session, principal, batch))
    entries, left_out, included = [], [], []
    taken = {name.casefold() for name in RESERVED}
    for file in files:
        refused = _refusal(file, found.dataset, file.id in readable)
        if refused is not None:
            left_out.append(refused)
            continue
        included.append(file)
        path = unique_path(archive_path(file.path), taken)
        entries.append(Entry(file.id, path, file.size, file.sha256, file.raw_key))
    paths = {e.file_id: e.path for e in entries}
    crate = await exports.ro_crate(
        session, replace(found, files=included), namespace, raw_bucket, paths=paths
    )
    prov = serialize_prov(prov_document(found, namespace), ExportFormat.PROV_JSON)
    title = sanitize_filename(found.dataset.title)[:100] or "dataset"
    return ArchivePlan(
        version_id=found.version.id,
        name=f"{title}-v{found.version.number}",
        format=fmt,
        prefix=start,
        entries=entries,
        left_out=left_out,
        crate=json.dumps(crate, indent=2, ensure_ascii=False),
        prov=prov,
    )


async def issue_version_download(
    session: AsyncSession,
    principal: Principal,
    store: ObjectStore,
    signer: UrlSigner,
    version_id: int,
    *,
    prefix: str | None,
    fmt: ArchiveFormat,
    namespace: str,
    lifetime: dt.timedelta,
) -> VersionDownload:
    """The archive's signed URL and each readable file's own URL (presigned by S3, else the
    server's). The mutation around it records it in the audit log."""
    plan = await plan_archive(
        session,
        principal,
        version_id,
        prefix=prefix,
        fmt=fmt,
        namespace=namespace,
        raw_bucket=store.buckets.raw,
    )
    body = plan.to_json()
    key = f"{PREFIX}{version_id}/{hashlib.sha256(body).hexdigest()[:32]}.json"
    try:
        await store.put(store.buckets.provenance, key, body, size=len(body))
        files = await _file_tickets(store, signer, plan, lifetime)
    except StorageError as error:
        raise DomainError.one(ErrorCode.STORAGE_UNAVAILABLE, str(error)[:300]) from error
    url, expires = signer.archive_url(key, lifetime)
    return VersionDownload(plan, url, dt.datetime.fromtimestamp(expires, dt.UTC), files)


async def _file_tickets(
    store: ObjectStore, signer: UrlSigner, plan: ArchivePlan, lifetime: dt.timedelta
) -> list[FileTicket]:
    tickets = []
    for entry in plan.entries:
        try:
            bucket = store.buckets.raw
            url = await store.presigned_get(bucket, entry.raw_key, lifetime, entry.path)
        except UnsupportedOperation:
            url, _ = signer.download_url(entry.file_id, lifetime)
        tickets.append(FileTicket(entry.path, entry.size, entry.sha256, url))
    return tickets
