"""The bytes of a version's archive (an ArchivePlan, server/datasets/archives.py), streamed:
zipstream-ng writes the ZIP (stored, no compression; ZIP64 where a member or the archive
needs it; data descriptors, so nothing is read twice), its size known before the first
byte (every member's size is). Each file is read from the object store in the store's
chunks, its sha256 checked on the way: a file whose bytes are not the recorded ones breaks
the stream off before its data descriptor and the archive's central directory, so no
reader takes it for a whole archive, and the failure is recorded. Memory holds a chunk or
two per download, whatever the version's size.

zipstream-ng is synchronous: its generator runs on the event loop, each step only after
the chunk it may pull has been read (see `_drive`); the CRC-32 it takes of a chunk is the
only work done on the loop (about 2 ms per 4 MiB chunk)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
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
    zs = ZipStream(sized=True)
    files: list[_FileChunks] = []
    for path, member in members:
        if isinstance(member, bytes):
            zs.add(member, path)
        else:
            files.append(_FileChunks(store, member))
            zs.add(files[-1], path, size=member.size)
    return Archive(plan.name + ".zip", len(zs), _drive(iter(zs), files, on_corrupt))


async def _drive(
    generator: Iterator[bytes], files: list[_FileChunks], on_corrupt: OnCorrupt
) -> AsyncIterator[bytes]:
    """zipstream's generator run on the event loop: before each step the file it may pull
    from has its next chunk read (or its end checked), so the generator never waits; the
    next file is opened while this one streams. Small pieces (headers, descriptors) are
    joined; a file's chunks are passed on as they are (no copy)."""
    current, small = 0, []
    try:
        while True:
            while current < len(files) and files[current].done:
                current += 1
            if current < len(files):
                if current + 1 < len(files):
                    files[current + 1].open_ahead()
                try:
                    await files[current].fill()
                except ArchiveCorrupted as error:
                    await on_corrupt(files[current].entry, str(error))
                    raise
            piece = next(generator, None)
            if piece is None:
                break
            if len(piece) < BLOCK:
                small.append(piece)
                if sum(map(len, small)) >= BLOCK:
                    yield b"".join(small)
                    small = []
                continue
            if small:
                yield b"".join(small)
                small = []
            yield piece
        if small:
            yield b"".join(small)
    finally:
        for file in files:
            await file.close()


class _FileChunks:
    """A file's chunks for zipstream, read ahead on the event loop (`fill`) and hashed in a
    thread (hashlib lets go of the GIL); zipstream takes them without waiting."""

    def __init__(self, store: ObjectStore, entry: Entry) -> None:
        self.store, self.entry = store, entry
        self.done = False  # zipstream has taken every chunk
        self._opening: asyncio.Task[ObjectReader] | None = None
        self._reader: ObjectReader | None = None
        self._buffer: deque[bytes] = deque()
        self._ended = False  # read to the end and verified
        self._digest = hashlib.sha256()

    def open_ahead(self) -> None:
        if self._opening is None:
            self._opening = asyncio.ensure_future(
                self.store.open_read(self.store.buckets.raw, self.entry.raw_key)
            )

    async def fill(self) -> None:
        """Make sure the next pull finds a chunk or the verified end."""
        if self._buffer or self._ended:
            return
        entry = self.entry
        if self._reader is None:
            self.open_ahead()
            assert self._opening is not None
            try:
                self._reader = await self._opening
            except ObjectNotFound:
                raise ArchiveCorrupted("missing") from None
            if self._reader.length != entry.size:
                raise ArchiveCorrupted(f"size {self._reader.length}, expected {entry.size}")
        try:
            chunk = await self._reader.__anext__()
        except StopAsyncIteration:
            await self._reader.aclose()
            actual = self._digest.hexdigest()
            if actual != entry.sha256:
                raise ArchiveCorrupted(f"sha256 {actual}, expected {entry.sha256}") from None
            self._ended = True
            return
        await asyncio.to_thread(self._digest.update, chunk)
        self._buffer.append(chunk)

    def __iter__(self) -> Iterator[bytes]:
        while self._buffer:
            yield self._buffer.popleft()
            if not (self._buffer or self._ended):
                raise RuntimeError("zipstream pulled a chunk that was not read yet")
        if not self._ended:
            raise RuntimeError("zipstream pulled a chunk that was not read yet")
        self.done = True

    async def close(self) -> None:
        """Release a reader the stream opened (ahead, or left when it broke off)."""
        if self._reader is None and self._opening is not None:
            with contextlib.suppress(BaseException):
                self._reader = await self._opening
        if self._reader is not None:
            await self._reader.aclose()
