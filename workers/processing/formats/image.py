"""Images: PNG, JPEG, GIF, WebP and TIFF without geo tags, read by Pillow in the sandbox's
child process (native.py registers it; a TIFF goes to raster.py when it has GeoTIFF tags).

The profile:

    {"kind": "image", "format": "JPEG" | "PNG" | "TIFF" | ..., "width", "height",
     "mode": "RGB" | "L" | ..., "frames": int, "orientation": EXIF 1-8 | None,
     "taken": "YYYY-MM-DDTHH:MM:SS" (EXIF DateTimeOriginal, else DateTime; the camera's
              local time as written) | None, "offset": "+09:00" | None (OffsetTimeOriginal),
     "camera": {"make", "model", "lens"} | None,
     "gps": {"latitude", "longitude", "altitude", "timestamp"} | None,
     "coverage": {"bbox": [lon, lat, lon, lat] (the GPS point) | None,
                  "time_start" = "time_end": the moment taken | None}}

The moment taken is the GPS date and time stamp when there is one (UTC by definition), else
DateTimeOriginal shifted by its OffsetTimeOriginal, else DateTimeOriginal read as UTC (a
camera's clock has no zone; the profile's `taken` keeps what was written). A thumbnail PNG
of at most `_THUMBNAIL` pixels a side, turned upright by the EXIF orientation, is the
`thumbnail` artifact. Pillow's decompression-bomb check stays on: an image of more than
`_MAX_PIXELS` pixels is DECOMPRESSION_BOMB before anything is decoded.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path
from typing import IO, Any

from ..model import ErrorCode, ProcessingError
from . import coverage as cov
from . import remote

_THUMBNAIL = 256
_MAX_PIXELS = 178_956_970  # Pillow's own error threshold (twice MAX_IMAGE_PIXELS' default)
_GEO_TAGS = {33550, 33922, 34264, 34735}  # ModelPixelScale, Tiepoint, Transformation, GeoKeys
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_MAKE, _MODEL, _DATETIME, _ORIENTATION = 271, 272, 306, 274
_DATETIME_ORIGINAL, _OFFSET_ORIGINAL, _LENS = 36867, 36881, 42036


def extract_tiff(path: str, workdir: str, options: dict[str, Any]) -> dict[str, Any]:
    """A TIFF with GeoTIFF tags (or one Pillow cannot open) is a raster, else an image."""
    if _georeferenced(remote.source(path, options)):
        from . import raster

        return raster.extract(path, workdir, options)
    return extract(path, workdir, options)


def _georeferenced(path: str | IO[bytes]) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as img:
            tags = set(getattr(img, "tag_v2", {}).keys())
    except remote.RemoteUnavailable:
        raise
    except Exception:  # noqa: BLE001 - BigTIFF, a bogus IFD, ...: GDAL reads or refuses it
        return True
    return bool(tags & _GEO_TAGS)


def extract(path: str, workdir: str, options: dict[str, Any]) -> dict[str, Any]:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = _MAX_PIXELS // 2  # a warning past it, an error past twice it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(remote.source(path, options)) as img:
                profile = _describe(img)
                _thumbnail(img, Path(workdir) / "thumbnail.png")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ProcessingError(ErrorCode.DECOMPRESSION_BOMB, str(error)[:300]) from error
    except UnidentifiedImageError as error:
        raise ProcessingError(ErrorCode.UNREADABLE, "not a readable image") from error
    except remote.RemoteUnavailable:  # the store's fault, not the image's: retried
        raise
    except (OSError, SyntaxError, ValueError) as error:  # a cut or corrupt stream
        raise ProcessingError(ErrorCode.UNREADABLE, f"image data: {error}"[:300]) from error
    files = [{"kind": "thumbnail", "name": "thumbnail.png", "file": "thumbnail.png"}]
    return {"profile": profile, "warnings": [], "files": files}


def _describe(img: Any) -> dict[str, Any]:
    exif = img.getexif()
    details = exif.get_ifd(_EXIF_IFD)
    taken = _exif_time(details.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME))
    offset = _text(details.get(_OFFSET_ORIGINAL))
    gps = _gps(exif.get_ifd(_GPS_IFD))
    camera = {
        "make": _text(exif.get(_MAKE)),
        "model": _text(exif.get(_MODEL)),
        "lens": _text(details.get(_LENS)),
    }
    found = cov.empty()
    if gps is not None and gps["latitude"] is not None and gps["longitude"] is not None:
        lat, lon = gps["latitude"], gps["longitude"]
        found["bbox"] = cov.bbox((lat, lat), (lon, lon))
    moment = _moment(taken, offset, gps)
    found["time_start"] = found["time_end"] = moment
    return {
        "kind": "image",
        "format": img.format,
        "width": img.width,
        "height": img.height,
        "mode": img.mode,
        "frames": int(getattr(img, "n_frames", 1)),
        "orientation": exif.get(_ORIENTATION),
        "taken": taken.isoformat() if taken else None,
        "offset": offset,
        "camera": camera if any(camera.values()) else None,
        "gps": gps,
        "coverage": found,
        "warnings": [],
    }


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip()
    return cleaned[:200] or None


def _exif_time(value: Any) -> dt.datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return dt.datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _moment(
    taken: dt.datetime | None, offset: str | None, gps: dict[str, Any] | None
) -> str | None:
    if gps is not None and gps.get("timestamp"):
        return str(gps["timestamp"])
    if taken is None:
        return None
    zone = dt.UTC
    if offset:
        try:
            zone = dt.datetime.strptime(offset, "%z").tzinfo or dt.UTC  # type: ignore[assignment]
        except ValueError:
            pass
    return cov.iso(taken.replace(tzinfo=zone))


def _gps(ifd: Any) -> dict[str, Any] | None:
    """Decimal degrees from the GPS IFD (rationals degrees/minutes/seconds and N/S, E/W)."""
    if not ifd:
        return None
    lat = _degrees(ifd.get(2), ifd.get(1), "S")
    lon = _degrees(ifd.get(4), ifd.get(3), "W")
    if lat is not None and not -90 <= lat <= 90:
        lat = None
    if lon is not None and not -180 <= lon <= 180:
        lon = None
    altitude = _number(ifd.get(6))
    if altitude is not None and ifd.get(5) in (1, b"\x01"):
        altitude = -altitude  # below sea level
    stamp = _gps_time(ifd.get(29), ifd.get(7))
    if lat is None and lon is None and altitude is None and stamp is None:
        return None
    return {"latitude": lat, "longitude": lon, "altitude": altitude, "timestamp": stamp}


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _degrees(parts: Any, ref: Any, negative: str) -> float | None:
    if not isinstance(parts, tuple) or len(parts) != 3:
        return None
    values = [_number(p) for p in parts]
    if any(v is None for v in values):
        return None
    d, m, s = (float(v) for v in values)  # type: ignore[arg-type]
    value = d + m / 60 + s / 3600
    return -value if _text(ref) == negative else value


def _gps_time(date: Any, time: Any) -> str | None:
    day = _text(date)
    if day is None or not isinstance(time, tuple) or len(time) != 3:
        return None
    numbers = [_number(t) for t in time]
    if any(n is None for n in numbers):
        return None
    hour, minute, second = (float(n) for n in numbers)  # type: ignore[arg-type]
    try:
        base = dt.datetime.strptime(day[:10], "%Y:%m:%d").replace(tzinfo=dt.UTC)
        moment = base + dt.timedelta(hours=hour, minutes=minute, seconds=int(second))
    except (ValueError, OverflowError):
        return None
    return cov.iso(moment)


def _thumbnail(img: Any, out: Path) -> None:
    from PIL import ImageOps

    img.seek(0)
    img.thumbnail((_THUMBNAIL, _THUMBNAIL))  # a JPEG is decoded at a fraction (draft mode)
    small = ImageOps.exif_transpose(img)
    if small.mode not in ("RGB", "RGBA", "L", "LA"):
        small = small.convert("RGBA" if "A" in small.getbands() or small.mode == "P" else "RGB")
    small.save(out, format="PNG", optimize=True)
