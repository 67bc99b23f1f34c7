"""Text encodings: sniffing from the head, and a streaming transcoder to UTF-8.

Behaviour for researchers' files:
- A BOM wins (UTF-8, UTF-16, UTF-32) when the bytes after it are text in that encoding (a
  binary file may begin with a BOM's bytes by chance).
- UTF-16 without a BOM (a NUL byte beside every ASCII character) is read as UTF-16.
- Valid UTF-8 in the head: UTF-8. If a later byte is not valid UTF-8 (a file assembled from
  UTF-8 and Latin-1/Windows-1252 parts), that byte is decoded as Windows-1252 instead
  ("mixed" decoding, `MIXED`), so "Müller" stays "Müller" whichever encoding a line used.
- A head with more valid multi-byte UTF-8 characters than invalid bytes: `MIXED`.
- Otherwise charset-normalizer guesses. A Western single-byte guess (cp1252, Latin-1) is
  treated as `MIXED` too, which also keeps any UTF-8 lines right; another guess (cp932/
  Shift_JIS, GB18030, EUC-KR, ...) is used as is, undecodable bytes becoming U+FFFD.
Every fallback or replacement is counted, and the count is reported as a warning.
"""

from __future__ import annotations

import codecs
import io
import threading
from typing import BinaryIO

MIXED = "utf-8+cp1252"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_WESTERN = {"cp1252", "windows-1252", "latin_1", "iso8859_1", "iso8859_15", "ascii"}
_ALIASES = {"shift_jis": "cp932", "shift_jis_2004": "cp932", "euc_jp": "euc_jp"}
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))

_counter = threading.local()


def _count() -> None:
    _counter.n = getattr(_counter, "n", 0) + 1


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _count()
    bad = bytes(exc.object[exc.start : exc.end])
    try:
        return bad.decode("cp1252"), exc.end
    except UnicodeDecodeError:
        return bad.decode("latin-1"), exc.end


def _counting_replace(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _count()
    return "\ufffd", exc.end


codecs.register_error("satreps-cp1252", _cp1252_fallback)
codecs.register_error("satreps-replace", _counting_replace)


def looks_binary(head: bytes) -> bool:
    if not head:
        return False
    if b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _CONTROL))
    return controls > len(head) // 100


def sniff_encoding(head: bytes) -> str | None:
    """The encoding of a text head, or None when the bytes do not look like text."""
    for bom, name in _BOMS:
        if head.startswith(bom) and _text_after_bom(head, name):
            return name
    if looks_binary(head):
        return _bomless_utf16(head)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(head):
        return MIXED
    guess = _guess(head)
    if guess is None or guess in _WESTERN:
        return MIXED
    return guess


def _text_after_bom(head: bytes, name: str) -> bool:
    """A BOM is two to four bytes that a binary file also begins with by chance (one random
    file in 32,768 starts as UTF-16's does): the rest must decode (but for a character cut
    at the head's end) and hold no NUL and few control characters, or it is not text."""
    if name == "utf-8-sig":  # invalid UTF-8 after it is read as MIXED text is
        return not looks_binary(head)
    try:
        text = codecs.getincrementaldecoder(name)().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return not looks_binary(text.encode("utf-8", errors="surrogatepass"))


def _bomless_utf16(head: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when every other byte is NUL and the text decodes cleanly."""
    even, odd = head[0::2], head[1::2]
    if len(odd) < 2:
        return None
    for name, zeros, chars in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros.count(0) >= 0.9 * len(zeros) and 0 not in chars:
            try:
                text = head[: len(head) - len(head) % 2].decode(name)
            except UnicodeDecodeError:
                return None
            return None if looks_binary(text.encode("utf-8")) else name
    return None


def _mostly_utf8(head: bytes) -> bool:
    """More valid multi-byte UTF-8 characters than invalid bytes: UTF-8 with strays."""
    text = head.decode("utf-8", errors="surrogateescape")
    invalid = sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
    valid = sum(1 for ch in text if ch >= "\x80") - invalid
    return valid >= invalid


def _guess(head: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(head[: 64 * 1024]).best()
    if best is None:
        return None
    name = best.encoding.lower()
    return _ALIASES.get(name, name)


def make_decoder(encoding: str) -> codecs.IncrementalDecoder:
    if encoding == MIXED:
        return codecs.getincrementaldecoder("utf-8")(errors="satreps-cp1252")
    return codecs.getincrementaldecoder(encoding)(errors="satreps-replace")


def decode_head(head: bytes, encoding: str) -> str:
    return make_decoder(encoding).decode(head, final=False)


class TranscodingReader(io.RawIOBase):
    """A read-only stream that yields UTF-8 decoded from `encoding`, counting fallbacks."""

    def __init__(self, raw: BinaryIO, encoding: str, chunk: int = 1024 * 1024) -> None:
        super().__init__()
        self._raw = raw
        self._decoder = make_decoder(encoding)
        self._chunk = chunk
        self._buf = bytearray()
        self._eof = False
        self._pos = 0
        self.replaced = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def _fill(self) -> None:
        raw = self._raw.read(self._chunk)
        _counter.n = 0
        text = self._decoder.decode(raw, final=not raw)
        self.replaced += _counter.n
        self._eof = not raw
        self._buf += text.encode("utf-8")

    def read(self, size: int | None = -1) -> bytes:
        want = -1 if size is None else size
        while (want < 0 or len(self._buf) < want) and not self._eof:
            self._fill()
        n = len(self._buf) if want < 0 else min(want, len(self._buf))
        out = bytes(self._buf[:n])
        del self._buf[:n]
        self._pos += n
        return out

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def reset_fallbacks() -> None:
    _counter.n = 0


def fallbacks() -> int:
    """Fallbacks counted in this thread since `reset_fallbacks` (text-stream decoding)."""
    return int(getattr(_counter, "n", 0))


def error_handler(encoding: str) -> str:
    return "satreps-cp1252" if encoding == MIXED else "satreps-replace"


def python_encoding(encoding: str) -> str:
    return "utf-8" if encoding == MIXED else encoding
