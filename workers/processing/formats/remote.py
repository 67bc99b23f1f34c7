"""A raw object read by byte ranges over HTTP, for the readers that seek (h5py).

In production the raw object is in S3. The worker streams it once to hash it; a format
whose reader needs only its header and a few coordinate values (NetCDF-4, HDF5) need not
wait for that stream to land on local disk: the extractor opens the object through a
presigned GET URL and reads the blocks it asks for, while the worker is still hashing.
Nothing of the object is copied to disk, whatever its size.

`RangedFile` is a read-only, seekable raw file: each `readinto` is served from blocks of
`block_size` bytes fetched with `Range: bytes=a-b` and kept in a small LRU cache (the
standard library's), so HDF5's many small reads of one metadata region are one request.
Every request carries `If-Match: <etag>` when the worker gave the ETag of the object it
hashed: a different object under the key fails (412) instead of being described.

A transport failure (connection refused, a 5xx, a timeout) is kept in `failure` and raised
as `RemoteUnavailable` by `reraise`: the extractor turns it into the sandbox's transient
answer, so the upload is retried rather than failed for a fault of the store.
"""

from __future__ import annotations

import functools
import io
from typing import IO, Any

import urllib3

BLOCK_SIZE = 1 << 20
BLOCKS = 32  # at most 32 MiB of the object held at once
TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)
RETRIES = urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504))


class RemoteUnavailable(OSError):
    """The object store did not serve a range: transient, the upload is retried."""


class RemoteChanged(RemoteUnavailable):
    """The object under the key is not the one the worker hashed (If-Match failed): retried
    too, the next attempt hashes and reads the same object."""


class RangedFile(io.RawIOBase):
    def __init__(
        self,
        url: str,
        *,
        etag: str | None = None,
        block_size: int = BLOCK_SIZE,
        blocks: int = BLOCKS,
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        super().__init__()
        self.url = url
        self.etag = etag
        self.block_size = block_size
        self.failure: OSError | None = None
        self.requests = 0
        self._pool = pool or urllib3.PoolManager(maxsize=1, timeout=TIMEOUT, retries=RETRIES)
        self._block = functools.lru_cache(maxsize=blocks)(self._fetch_block)
        self._pos = 0
        self._size = self._total_size()

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._pos + offset
        elif whence == io.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError(f"whence {whence}")
        if position < 0:
            raise ValueError("negative seek position")
        self._pos = position
        return position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self._size - self._pos))
        done = 0
        while done < wanted:
            index, start = divmod(self._pos + done, self.block_size)
            block = self._block(index)
            take = min(wanted - done, len(block) - start)
            if take <= 0:  # the object is shorter than it said: the store changed under us
                raise self._fail(RemoteChanged(f"block {index} ends early"))
            view[done : done + take] = block[start : start + take]
            done += take
        self._pos += done
        return done

    def reraise(self) -> None:
        """After a reader failed: the transport's own error, if that was the cause."""
        if self.failure is not None:
            raise self.failure

    def _total_size(self) -> int:
        response = self._get(0, 0)
        content_range = response.headers.get("content-range", "")
        if response.status == 206 and "/" in content_range:
            total = content_range.rsplit("/", 1)[1]
            if total.isdigit():
                return int(total)
        raise self._fail(RemoteUnavailable(f"no Content-Range in the answer ({response.status})"))

    def _fetch_block(self, index: int) -> bytes:
        start = index * self.block_size
        end = min(self._size, start + self.block_size) - 1
        data: bytes = self._get(start, end).data
        return data

    def _get(self, start: int, end: int) -> Any:
        headers = {"Range": f"bytes={start}-{end}"}
        if self.etag:
            headers["If-Match"] = f'"{self.etag}"'
        self.requests += 1
        try:
            response = self._pool.request("GET", self.url, headers=headers, preload_content=True)
        except urllib3.exceptions.HTTPError as error:
            raise self._fail(RemoteUnavailable(f"range {start}-{end}: {error}")) from error
        if response.status == 412:
            raise self._fail(RemoteChanged("the object changed after it was hashed (If-Match)"))
        if response.status != 206:
            message = f"range {start}-{end}: HTTP {response.status}"
            raise self._fail(RemoteUnavailable(message))
        return response

    def _fail(self, error: OSError) -> OSError:
        self.failure = self.failure or error
        return error


def source(path: str, options: dict[str, Any]) -> str | IO[bytes]:
    """What a Python reader (Pillow) opens: the local path, or the object by range, buffered,
    when the worker gave a URL (`options["remote"]`)."""
    if not options.get("remote"):
        return path
    return io.BufferedReader(RangedFile(path, etag=options.get("etag")), 64 * 1024)


def gdal_env(options: dict[str, Any]) -> dict[str, str]:
    """GDAL's configuration to read a presigned URL by range (/vsicurl/): no HEAD (the URL
    is signed for GET), no directory listing, the hashed object pinned by If-Match, and
    retries of a failing store."""
    env = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "CPL_VSIL_CURL_USE_HEAD": "NO",
        "GDAL_HTTP_MAX_RETRY": "3",
        "GDAL_HTTP_RETRY_DELAY": "0.5",
        "GDAL_HTTP_TIMEOUT": "60",
    }
    if options.get("etag"):
        env["GDAL_HTTP_HEADERS"] = f'If-Match: "{options["etag"]}"'
    return env


def gdal_path(path: str, options: dict[str, Any]) -> str:
    return f"/vsicurl/{path}" if options.get("remote") else path


def check_reachable(path: str, options: dict[str, Any]) -> None:
    """Before a native library reads a URL by range: the store answers for this object
    (RemoteUnavailable, RemoteChanged otherwise), so a failure inside the library that
    follows is the file's, not the store's."""
    if options.get("remote"):
        RangedFile(path, etag=options.get("etag")).close()
