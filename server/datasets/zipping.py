"""The bytes of a version's archive (an ArchivePlan, server/datasets/archives.py), streamed:
zipstream-ng writes the ZIP (stored, no compression; ZIP64 where a member or the archive
needs it; data descriptors, so nothing is read twice), its size known before the first
byte (every member's size is). Each file is read from the object store in the store's
chunks, its sha256 checked on the way: a file whose bytes are not the recorded ones breaks
the stream off before its data descriptor and the archive's central directory, so no
reader takes it for a whole archive, and the failure is recorded. Memory holds a chunk or
two per download, whatever the version's size.

zipstream-ng is synchronous: its generator runs in a worker thread a block at a time
(`asyncio.to_thread`), and pulls each file's chunks from the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from zipstream import ZipStream

from server.datasets.archives import (
    CRATE,
    MANIFEST,
    PROV,
    ArchiveFormat,
    ArchivePlan,
    Entry,
    LeftOut,
)
from server.storage import ObjectNotFound, ObjectStore
from server.storage.base import ObjectReader

BLOCK = 256 * 1024  # the least the thread hands back at once (headers are small)
OnCorrupt = Callable[[Entry, str], Coroutine[Any, Any, None]]
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


class ArchiveCorrupted(Exception):
    """Raised mid-stream: a file's stored bytes are not its recorded ones."""


@dataclass
class Archive:
    filename: str
    size: int
    chunks: AsyncIterator[bytes]


def manifest_text(plan: ArchivePlan, entries: list[Entry], left_out: list[LeftOut]) -> bytes:
    """`sha256  path` per file (sha256sum -c reads it; `#` lines are comments to it), then
    the files left out, with their code and why."""
    lines = [f"{e.sha256}  {e.path}\n" for e in entries]
    if left_out:
        lines.append(f"# left out of this archive: {len(left_out)} file(s)\n")
        lines.extend(f"# {x.code}  {x.path}  {x.message}\n" for x in left_out)
    return "".join(lines).encode()


def _bag_escape(path: str) -> str:
    """RFC 8493 §2.1.3: CR, LF and % in a manifest's paths are percent-encoded."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _line(text: str) -> str:
    return " ".join(text.split())  # bag-info values on one line


class _Members:
    """The archive's members in order: (path, bytes) or (path, Entry) for a file."""

    def __init__(self, plan: ArchivePlan, entries: list[Entry], left_out: list[LeftOut]):
        self.plan, self.entries, self.left_out = plan, entries, left_out

    def zip(self) -> list[tuple[str, bytes | Entry]]:
        plan = self.plan
        head: list[tuple[str, bytes | Entry]] = [
            (MANIFEST, manifest_text(plan, self.entries, self.left_out)),
            (CRATE, plan.crate.encode()),
            (PROV, plan.prov.encode()),
        ]
        return head + [(e.path, e) for e in self.entries]

    def bag(self) -> list[tuple[str, bytes | Entry]]:
        plan, root = self.plan, self.plan.name + "/"
        tags = [(f"data/{CRATE}", plan.crate.encode()), (f"data/{PROV}", plan.prov.encode())]
        payload = [(hashlib.sha256(body).hexdigest(), path, len(body)) for path, body in tags]
        payload += [(e.sha256, f"data/{e.path}", e.size) for e in self.entries]
        manifest = "".join(f"{sha}  {_bag_escape(path)}\n" for sha, path, _ in payload).encode()
        info = [
            "Bag-Software-Agent: satreps-hub",
            f"Bagging-Date: {dt.datetime.now(dt.UTC).date().isoformat()}",
            f"Payload-Oxum: {sum(size for *_, size in payload)}.{len(payload)}",
            f"External-Description: {_line(plan.name)}",
            f"Internal-Sender-Identifier: DatasetVersion:{plan.version_id}",
        ]
        if plan.prefix:
            info.append(f"Internal-Sender-Description: the files under {_line(plan.prefix)}")
        info += [f"Left-Out: {_line(f'{x.path} ({x.code}: {x.message})')}" for x in self.left_out]
        bag_info = ("\n".join(info) + "\n").encode()
        tag_files = [("bagit.txt", BAGIT_TXT), ("bag-info.txt", bag_info), (MANIFEST, manifest)]
        tagmanifest = "".join(
            f"{hashlib.sha256(body).hexdigest()}  {name}\n" for name, body in tag_files
        ).encode()
        members: list[tuple[str, bytes | Entry]] = [
            (root + name, body)
            for name, body in [*tag_files, ("tagmanifest-sha256.txt", tagmanifest)]
        ]
        members += [(root + path, body) for path, body in tags]
        members += [(f"{root}data/{e.path}", e) for e in self.entries]
        return members


def build_archive(
    store: ObjectStore,
    plan: ArchivePlan,
    *,
    entries: list[Entry] | None = None,
    left_out: list[LeftOut] | None = None,
    on_corrupt: OnCorrupt,
) -> Archive:
    """The archive of `plan` (its entries and left-out files, unless the caller narrowed
    them since: a file whose fixity failed after the URL was issued)."""
    chosen = _Members(plan, plan.entries if entries is None else entries, left_out or [])
    members = chosen.bag() if plan.format == ArchiveFormat.BAGIT else chosen.zip()
    loop = asyncio.get_running_loop()
    zs = ZipStream(sized=True)
    files: list[_FileChunks] = []
    for path, member in members:
        if isinstance(member, bytes):
            zs.add(member, path)
        else:
            files.append(_FileChunks(loop, store, member, on_corrupt))
            zs.add(files[-1], path, size=member.size)
    for current, following in zip(files, files[1:], strict=False):
        current.following = following
    return Archive(plan.name + ".zip", len(zs), _drive(iter(zs), files))


async def _drive(generator: Iterator[bytes], files: list[_FileChunks]) -> AsyncIterator[bytes]:
    """zipstream's output a block at a time: the small pieces (headers, descriptors) joined,
    a file's chunks passed on as they are (no copy)."""
    try:
        while pieces := await asyncio.to_thread(_next_pieces, generator):
            small: list[bytes] = []
            for piece in pieces:
                if len(piece) < BLOCK:
                    small.append(piece)
                    continue
                if small:
                    yield b"".join(small)
                    small = []
                yield piece
            if small:
                yield b"".join(small)
    finally:
        for file in files:  # a reader opened ahead for a file the stream never reached
            await file.discard()


def _next_pieces(generator: Iterator[bytes]) -> list[bytes]:
    pieces, size = [], 0
    for piece in generator:
        pieces.append(piece)
        size += len(piece)
        if size >= BLOCK:
            break
    return pieces


class _FileChunks:
    """A file's chunks for zipstream's thread, read on the event loop one chunk ahead (and
    the next file opened while this one streams), hashed on the way."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        store: ObjectStore,
        entry: Entry,
        on_corrupt: OnCorrupt,
    ) -> None:
        self.loop, self.store, self.entry, self.on_corrupt = loop, store, entry, on_corrupt
        self.following: _FileChunks | None = None
        self._opening: Future[ObjectReader] | None = None

    def _submit[T](self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def _run[T](self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._submit(coroutine).result()

    def open_ahead(self) -> None:
        if self._opening is None:
            self._opening = self._submit(
                self.store.open_read(self.store.buckets.raw, self.entry.raw_key)
            )

    async def discard(self) -> None:
        opening, self._opening = self._opening, None
        if opening is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wrap_future(opening)
                await opening.result().aclose()

    def _corrupt(self, result: str) -> ArchiveCorrupted:
        self._run(self.on_corrupt(self.entry, result))
        return ArchiveCorrupted(f"{self.entry.path}: {result}")

    def __iter__(self) -> Iterator[bytes]:
        entry = self.entry
        self.open_ahead()
        opening, self._opening = self._opening, None
        assert opening is not None
        try:
            reader = opening.result()
        except ObjectNotFound:
            raise self._corrupt("missing") from None
        if self.following is not None:
            self.following.open_ahead()
        digest = hashlib.sha256()
        ahead: Future[bytes | None] | None = None
        try:
            if reader.length != entry.size:
                raise self._corrupt(f"size {reader.length}, expected {entry.size}")
            ahead = self._submit(_next_chunk(reader, digest))
            while (chunk := ahead.result()) is not None:
                ahead = self._submit(_next_chunk(reader, digest))
                yield chunk
            ahead = None
        finally:
            if ahead is not None:
                with contextlib.suppress(BaseException):
                    ahead.result()
            self._run(reader.aclose())
        if digest.hexdigest() != entry.sha256:
            raise self._corrupt(f"sha256 {digest.hexdigest()}, expected {entry.sha256}")


async def _next_chunk(reader: AsyncIterator[bytes], digest: Any) -> bytes | None:
    """The reader's next chunk, hashed into `digest` in a thread of its own: the sha256 of
    one chunk runs beside zipstream's CRC-32 of the one before (hashlib lets go of the
    GIL), one chunk at a time, in order."""
    try:
        chunk = await reader.__anext__()
    except StopAsyncIteration:
        return None
    await asyncio.to_thread(digest.update, chunk)
    return chunk
