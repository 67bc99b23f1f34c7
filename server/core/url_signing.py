"""Signed, expiring URLs of the server's own upload and download endpoints (embedded mode),
absolute under the server's public base URL (`at`: one per request)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from pathlib import Path
from urllib.parse import quote, urlencode


class UrlSigner:
    def __init__(self, secret: bytes, base_url: str = "") -> None:
        self._secret = secret
        self.base_url = base_url.rstrip("/")

    @classmethod
    def from_file(cls, path: Path, base_url: str = "") -> UrlSigner:
        """The key lives beside the objects, so URLs survive a restart (resumable uploads)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(secrets.token_bytes(32))
            tmp.chmod(0o600)
            tmp.replace(path)
        return cls(path.read_bytes(), base_url)

    def at(self, base_url: str) -> UrlSigner:
        """The same key, its URLs under `base_url` (scheme://host[:port][/prefix])."""
        return UrlSigner(self._secret, base_url)

    def _mac(self, upload_id: int, part: int | None, expires: int) -> str:
        message = f"{upload_id}:{part or 0}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def upload_url(self, upload_id: int, part: int | None, lifetime: dt.timedelta) -> str:
        expires = int(time.time() + lifetime.total_seconds())
        query = {"expires": expires, "signature": self._mac(upload_id, part, expires)}
        if part is not None:
            query["part"] = part
        return f"{self.base_url}/uploads/{upload_id}?{urlencode(query)}"

    def verify(self, upload_id: int, part: int | None, expires: int, signature: str) -> str | None:
        """None when valid, else why not."""
        if not hmac.compare_digest(self._mac(upload_id, part, expires), signature):
            return "bad signature"
        if expires < time.time():
            return "URL expired"
        return None

    # downloads: a separate message space, so an upload URL's signature never opens a file
    def _download_mac(self, file_id: int, expires: int) -> str:
        message = f"download:{file_id}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def download_url(self, file_id: int, lifetime: dt.timedelta) -> tuple[str, int]:
        """The URL and its expiry (Unix time) of a file's download through the server."""
        expires = int(time.time() + lifetime.total_seconds())
        query = {"download": file_id, "expires": expires}
        query["signature"] = self._download_mac(file_id, expires)  # type: ignore[assignment]
        return f"{self.base_url}/graphql?{urlencode(query)}", expires

    def verify_download(self, file_id: int, expires: int, signature: str) -> str | None:
        """None when valid, else why not."""
        return _refusal(self._download_mac(file_id, expires), expires, signature)

    # provenance exports, kept in the provenance bucket: their own message space too
    def _export_mac(self, key: str, expires: int) -> str:
        message = f"export:{key}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def export_url(self, key: str, lifetime: dt.timedelta) -> str:
        """The URL of an export object through the server: its key in the provenance
        bucket (exports/...) is the URL's path."""
        expires = int(time.time() + lifetime.total_seconds())
        query = urlencode({"expires": expires, "signature": self._export_mac(key, expires)})
        return f"{self.base_url}/{quote(key)}?{query}"

    def verify_export(self, key: str, expires: int, signature: str) -> str | None:
        """None when valid, else why not."""
        return _refusal(self._export_mac(key, expires), expires, signature)

    # a version's archive: the key of its plan in the provenance bucket (archives/...)
    def _archive_mac(self, key: str, expires: int) -> str:
        message = f"archive:{key}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def archive_url(self, key: str, lifetime: dt.timedelta) -> tuple[str, int]:
        """The URL and its expiry (Unix time) of a version's archive, streamed by the
        server (`GET /archives/...`)."""
        expires = int(time.time() + lifetime.total_seconds())
        query = urlencode({"expires": expires, "signature": self._archive_mac(key, expires)})
        return f"{self.base_url}/{quote(key)}?{query}", expires

    def verify_archive(self, key: str, expires: int, signature: str) -> str | None:
        """None when valid, else why not."""
        return _refusal(self._archive_mac(key, expires), expires, signature)

    # any other value the server signs (OAI-PMH resumption tokens): a named space each
    def mac(self, space: str, message: str) -> str:
        """The HMAC of `message` in its own message space (`space` names the use)."""
        return hmac.new(self._secret, f"{space}:{message}".encode(), hashlib.sha256).hexdigest()


def _refusal(expected: str, expires: int, signature: str) -> str | None:
    if not hmac.compare_digest(expected, signature):
        return "bad signature"
    if expires < time.time():
        return "URL expired"
    return None
