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
only work done on the loop (about 2 ms per 4 MiB chunk). Memory: at most AHEAD chunks
read ahead, plus the one being sent."""

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

BLOCK = 256 * 1024  # small pieces (headers, descriptors) are joined up to this
AHEAD = 4  # chunks read ahead of the stream (at most 4 x the store's chunk size)
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
            files.append(_FileChunks(member))
            zs.add(files[-1], path, size=member.size)
    return Archive(plan.name + ".zip", len(zs), _drive(store, iter(zs), files, on_corrupt))


async def _drive(
    store: ObjectStore,
    generator: Iterator[bytes],
    files: list[_FileChunks],
    on_corrupt: OnCorrupt,
) -> AsyncIterator[bytes]:
    """zipstream's generator run on the event loop, fed by a reader task (`_read_ahead`)
    a few chunks ahead: before each step the file it may pull from has its next chunk (or
    its verified end), so the generator never waits, and the store's reads and the hashing
    go on while the bytes before them are sent. Small pieces (headers, descriptors) are
    joined; a file's chunks are passed on as they are (no copy)."""
    queue: asyncio.Queue[tuple[int, bytes | BaseException | None]] = asyncio.Queue(AHEAD)
    reading = asyncio.create_task(_read_ahead(store, [f.entry for f in files], queue))
    current, small = 0, []
    try:
        while True:
            while current < len(files) and files[current].done:
                current += 1
            if current < len(files):
                try:
                    await files[current].fill(current, queue)
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
        reading.cancel()
        with contextlib.suppress(BaseException):
            await reading


async def _read_ahead(
    store: ObjectStore,
    entries: list[Entry],
    queue: asyncio.Queue[tuple[int, bytes | BaseException | None]],
) -> None:
    """Every file's chunks in order into `queue` (at most AHEAD waiting), each file ended
    by None once its sha256 matched, or by the ArchiveCorrupted that stops the archive.
    A chunk is hashed in a thread while the next one is read."""
    opening: asyncio.Task[ObjectReader] | None = None

    def open_file(index: int) -> asyncio.Task[ObjectReader] | None:
        if index >= len(entries):
            return None
        return asyncio.create_task(store.open_read(store.buckets.raw, entries[index].raw_key))

    opening = open_file(0)
    try:
        for index, entry in enumerate(entries):
            assert opening is not None
            try:
                reader = await opening
            except ObjectNotFound:
                await queue.put((index, ArchiveCorrupted("missing")))
                return
            opening = open_file(index + 1)  # the next file's GET while this one is read
            async with reader:
                if reader.length != entry.size:
                    problem = f"size {reader.length}, expected {entry.size}"
                    await queue.put((index, ArchiveCorrupted(problem)))
                    return
                digest, hashing = hashlib.sha256(), None
                async for chunk in reader:
                    if hashing is not None:
                        await hashing
                    hashing = asyncio.ensure_future(asyncio.to_thread(digest.update, chunk))
                    await queue.put((index, chunk))
                if hashing is not None:
                    await hashing
            if digest.hexdigest() != entry.sha256:
                problem = f"sha256 {digest.hexdigest()}, expected {entry.sha256}"
                await queue.put((index, ArchiveCorrupted(problem)))
                return
            await queue.put((index, None))
    finally:
        if opening is not None:
            opening.cancel()
            with contextlib.suppress(BaseException):
                await (await opening).aclose()


class _FileChunks:
    """A file's chunks for zipstream, taken from the reader task's queue (`fill`) before
    zipstream asks for them: zipstream never waits."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.done = False  # zipstream has taken every chunk
        self._buffer: deque[bytes] = deque()
        self._ended = False  # read to the end and verified

    async def fill(
        self, index: int, queue: asyncio.Queue[tuple[int, bytes | BaseException | None]]
    ) -> None:
        """Make sure the next pull finds a chunk or the verified end."""
        if self._buffer or self._ended:
            return
        got, item = await queue.get()
        assert got == index, (got, index)  # the reader task goes in the archive's order
        if isinstance(item, BaseException):
            raise item
        if item is None:
            self._ended = True
        else:
            self._buffer.append(item)

    def __iter__(self) -> Iterator[bytes]:
        while self._buffer:
            yield self._buffer.popleft()
            if not (self._buffer or self._ended):
                raise RuntimeError("zipstream pulled a chunk that was not read yet")
        if not self._ended:
            raise RuntimeError("zipstream pulled a chunk that was not read yet")
        self.done = True
