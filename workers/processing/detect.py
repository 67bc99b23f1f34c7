"""Format detection: magic bytes first, then text sniffing, then the extension as a tiebreak.

Hand-written magic table rather than `puremagic`/`filetype`: the formats we act on are a
dozen fixed signatures, those libraries do not sniff text formats (CSV/JSON) at all, and
telling xlsx from zip needs the central directory, which we read ourselves (`zip_kind`).
"""

from __future__ import annotations

import csv
import json
import re
import struct
import zipfile
import zlib
from collections import Counter
from pathlib import Path, PurePath

from .model import DetectedFormat
from .text import decode_head, sniff_encoding

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
_ODS_MIMETYPE = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"PAR1", "parquet", "application/vnd.apache.parquet"),
    (b"%PDF-", "pdf", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"\xff\xd8\xff", "jpeg", "image/jpeg"),
    (b"GIF87a", "gif", "image/gif"),
    (b"GIF89a", "gif", "image/gif"),
    (b"II*\x00", "tiff", "image/tiff"),
    (b"MM\x00*", "tiff", "image/tiff"),
    (b"II+\x00", "tiff", "image/tiff"),  # BigTIFF
    (b"MM\x00+", "tiff", "image/tiff"),
    (b"\x89HDF\r\n\x1a\n", "hdf5", "application/x-hdf5"),
    (b"CDF\x01", "netcdf", "application/x-netcdf"),
    (b"CDF\x02", "netcdf", "application/x-netcdf"),
    (b"\x1f\x8b", "gzip", "application/gzip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2", "application/x-ole-storage"),
    (b"SQLite format 3\x00", "sqlite", "application/vnd.sqlite3"),
    (b"fgb\x03", "flatgeobuf", "application/vnd.flatgeobuf"),
    (b"PK\x03\x04", "zip", "application/zip"),
    (b"PK\x05\x06", "zip", "application/zip"),
)
_NETCDF_EXT = {".nc", ".nc4", ".netcdf", ".cdf"}
_TEXT_KINDS = {
    "csv": ("text/csv", True),
    "tsv": ("text/tab-separated-values", True),
    "ndjson": ("application/x-ndjson", True),
    "json": ("application/json", False),
    "json-array": ("application/json", True),
    "geojson": ("application/geo+json", True),
    "text": ("text/plain", False),
}
_DELIMITERS = (",", "\t", ";", "|")
_KML = re.compile(r"<kml[\s>]")
_GEOJSON = re.compile(r'"type"\s*:\s*"(FeatureCollection|Feature)"')

_FASTA = re.compile(r">\S")
_BASES = re.compile(r"^[A-Za-z*\-.]+\s*$")
_SEQUENCE_MEDIA = {
    "fasta": "text/x-fasta",
    "fastq": "text/x-fastq",
    "vcf": "text/x-vcf",
}
# sequence number, data quality indicator, reserved, station (5), location (2), channel (3)
_MSEED2 = re.compile(rb"[0-9 ]{5}[0-9][DRQM][ \x00][A-Z0-9 ]{5}[A-Z0-9 ]{2}[A-Z0-9 ]{3}", re.I)

OPAQUE = DetectedFormat("opaque", "application/octet-stream", False)


def detect_format(head: bytes, filename: str, path: Path | None = None) -> DetectedFormat:
    """Detect from the first bytes; `path` (a seekable copy) lets ZIPs be told apart."""
    ext = PurePath(filename).suffix.lower()
    for magic, kind, media in _MAGIC:
        if head.startswith(magic):
            if kind == "gzip":
                return _gzipped(head, ext) or DetectedFormat(kind, media, False)
            return _refine_binary(kind, media, head, ext, path)
    seismic = _seismic(head, ext)
    if seismic is not None:
        return seismic
    if head[8:12] == b"WEBP" and head.startswith(b"RIFF"):
        return DetectedFormat("webp", "image/webp", False)
    encoding = sniff_encoding(head)
    if encoding is None or not head:
        return OPAQUE
    return _sniff_text(decode_head(head, encoding), encoding, ext)


def _refine_binary(
    kind: str, media: str, head: bytes, ext: str, path: Path | None
) -> DetectedFormat:
    if kind == "hdf5" and ext in _NETCDF_EXT:
        return DetectedFormat("netcdf", "application/x-netcdf", False, detail="netcdf4")
    if kind == "sqlite" and ext == ".gpkg":
        return DetectedFormat("gpkg", "application/geopackage+sqlite3", False)
    if kind == "ole2" and ext in {".xls", ".xlt"}:
        return DetectedFormat("xls", "application/vnd.ms-excel", False)
    if kind == "ole2" and ext in {".xlsx", ".xlsm"}:  # an encrypted workbook is an OLE2 file
        return DetectedFormat("xlsx", XLSX, False, detail="ole2")
    if kind == "zip":
        sub = zip_kind(path) if path is not None else _zip_kind_from_head(head, ext)
        if sub == "xlsx":
            return DetectedFormat("xlsx", XLSX, False)
        if sub == "ods":
            return DetectedFormat("ods", ODS, False)
        if sub == "shapefile":
            return DetectedFormat("shapefile", "application/zip", False, detail="zipped")
    return DetectedFormat(kind, media, kind == "parquet")


def zip_kind(path: Path) -> str:
    """'xlsx' or 'ods' when the central directory holds a workbook, else 'zip' (also if
    unreadable)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if "mimetype" in names and zf.getinfo("mimetype").file_size < 256:
                if zf.read("mimetype") == _ODS_MIMETYPE[8:]:
                    return "ods"
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, RuntimeError):
        return "zip"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    return "shapefile" if any(n.lower().endswith(".shp") for n in names) else "zip"


def _zip_kind_from_head(head: bytes, ext: str) -> str:
    if head[30 : 30 + len(_ODS_MIMETYPE)] == _ODS_MIMETYPE:  # ODF: "mimetype" first, stored
        return "ods"
    if b"xl/" in head[:4096] or ext in {".xlsx", ".xlsm"}:
        return "xlsx"
    return "shapefile" if b".shp" in head[:4096].lower() else "zip"


def _text(kind: str, encoding: str, delimiter: str | None = None) -> DetectedFormat:
    media, tabular = _TEXT_KINDS[kind]
    return DetectedFormat(
        "json" if kind == "json-array" else kind,
        media,
        tabular,
        encoding=encoding,
        delimiter=delimiter,
        detail="array" if kind == "json-array" else None,
    )


def _sniff_text(text: str, encoding: str, ext: str) -> DetectedFormat:
    stripped = text.lstrip("\ufeff \t\r\n")
    sequences = _sequences(stripped)
    if sequences is not None:
        return DetectedFormat(sequences, _SEQUENCE_MEDIA[sequences], False, encoding)
    if stripped.startswith("<") and _KML.search(stripped[:4096]):
        return DetectedFormat("kml", "application/vnd.google-earth.kml+xml", False, encoding)
    if stripped[:1] in ("{", "["):
        json_kind = _sniff_json(stripped, ext)
        if json_kind is not None:
            return _text(json_kind, encoding)
    delimiter = sniff_delimiter(text, ext)
    if delimiter is not None:
        return _text("tsv" if delimiter == "\t" else "csv", encoding, delimiter)
    if ext in {".csv", ".tsv", ".tab"}:
        return _text("tsv" if ext != ".csv" else "csv", encoding, "," if ext == ".csv" else "\t")
    return _text("text", encoding)


def _sequences(text: str) -> str | None:
    """'vcf', 'fasta' or 'fastq' from the first lines of a text."""
    if text.startswith("##fileformat=VCF"):
        return "vcf"
    lines = text.splitlines()
    if _FASTA.match(text) and len(lines) > 1 and _BASES.match(lines[1]):
        return "fasta"
    if len(lines) >= 4 and lines[0].startswith("@") and lines[2].startswith("+"):
        if _BASES.match(lines[1]):
            return "fastq"
    return None


def _gzipped(head: bytes, ext: str) -> DetectedFormat | None:
    """A FASTA, FASTQ or VCF inside gzip (or bgzip, htslib's blocked gzip), from the
    decompressed start of the stream."""
    try:
        inner = zlib.decompressobj(31).decompress(head, 16 * 1024)
    except zlib.error:
        return None
    encoding = sniff_encoding(inner)
    if encoding is None or not inner:
        return None
    kind = _sequences(decode_head(inner, encoding).lstrip("\ufeff \t\r\n"))
    if kind is None:
        return None
    # bgzip: a gzip member with the FEXTRA flag and a "BC" subfield
    blocked = len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC"
    return DetectedFormat(kind, _SEQUENCE_MEDIA[kind], False, detail="bgzip" if blocked else "gzip")


def _seismic(head: bytes, ext: str) -> DetectedFormat | None:
    """miniSEED 2 (a fixed data header: six-digit sequence number, a quality indicator
    D/R/Q/M, station and channel codes in ASCII), miniSEED 3 ("MS" 3) or SAC (`.sac`, a
    632-byte binary header whose NVHDR word is 6 or 7, either byte order)."""
    if len(head) >= 48 and _MSEED2.match(head[:20]):
        return DetectedFormat("mseed", "application/vnd.fdsn.mseed", False, detail="2")
    if head.startswith(b"MS\x03") and len(head) >= 40:
        return DetectedFormat("mseed", "application/vnd.fdsn.mseed", False, detail="3")
    if ext == ".sac" and len(head) >= 632:
        for order in "<>":
            (version,) = struct.unpack_from(f"{order}i", head, 304)
            if version in (6, 7):
                return DetectedFormat("sac", "application/x-sac", False)
    return None


def _sniff_json(text: str, ext: str) -> str | None:
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    complete = lines[:-1] if len(lines) > 1 else lines
    if len(complete) >= 2 and all(_is_json_object(ln) for ln in complete):
        return "ndjson"
    if text.startswith("{"):
        if _GEOJSON.search(text[:65536]):
            return "geojson"
        if ext in {".ndjson", ".jsonl"} and _is_json_object(lines[0]):
            return "ndjson"
        return "json"
    return "json-array"


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def sniff_delimiter(text: str, ext: str) -> str | None:
    """The delimiter giving the same field count (>= 2) on most of the first lines."""
    lines = text.splitlines()[:50]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return None
    preferred = "\t" if ext in {".tsv", ".tab"} else ","
    best: tuple[float, int, int, str] | None = None
    for delim in _DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delim)]
        width, hits = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        score = (hits / len(counts), int(delim == preferred), width, delim)
        if best is None or score[:3] > best[:3]:
            best = score
    if best is None or best[0] < 0.8:
        return None
    return best[3]
