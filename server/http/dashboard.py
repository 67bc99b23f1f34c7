"""GET /dashboard: the programme dashboard, a static page built from frontend/ (see its
package.json) into server/http/static/dashboard/. It reads only through /graphql with the
caller's token, so the server needs no Node and the page loads nothing from elsewhere.

The page is served with a strict Content-Security-Policy (own origin only, no inline code),
revalidated on each visit (ETag); the assets have content-hashed names and are cached for a
year as immutable.

Languages (server/http/i18n.py): the page comes with `<html lang>` negotiated from
Accept-Language and `data-languages` naming every catalogue; the page's script fetches
/dashboard/i18n/<lang>.json (the .po compiled at start-up, revalidated by ETag) for the
language remembered from its switch, else that one.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.http.i18n import LOCALES_DIR, compiled_catalogues, negotiate

STATIC_DIR = Path(__file__).parent / "static" / "dashboard"

# own origin only: scripts, styles, fetch and the graphql-transport-ws socket ('self'
# covers ws:/wss: of the same host); nothing inline, no frames, no plugins, no form posts
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
INDEX_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
_HTML_TAG = b'<html lang="en">'


@dataclass(frozen=True)
class _File:
    body: bytes
    media_type: str
    etag: str


def _file(body: bytes, name: str) -> _File:
    suffix = Path(name).suffix
    media_type = _TYPES.get(suffix) or mimetypes.guess_type(name)[0]
    return _File(
        body=body,
        media_type=media_type or "application/octet-stream",
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
    )


def _load(path: Path) -> _File:
    return _file(path.read_bytes(), path.name)


def _localised(index: _File, lang: str, languages: list[str]) -> _File:
    """The page with `<html lang>` set and the offered languages named (its own ETag)."""
    tag = f'<html lang="{lang}" data-languages="{" ".join(languages)}">'.encode()
    return _file(index.body.replace(_HTML_TAG, tag, 1), "index.html")


def _respond(
    request: Request, file: _File, cache: str, extra: dict[str, str] | None = None
) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache, "ETag": file.etag, **(extra or {})}
    if file.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else file.body
    response = Response(body, media_type=file.media_type, headers=headers)
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(len(file.body))
    return response


def dashboard_routes(
    static_dir: Path = STATIC_DIR, locales_dir: Path = LOCALES_DIR
) -> list[BaseRoute]:
    """/dashboard, /dashboard/, /dashboard/assets/{name} and /dashboard/i18n/{lang}.json: the
    built files and the compiled catalogues, read once.

    Only files present at start-up are served (by exact name: no path is ever joined from
    the request)."""
    catalogues = {
        f"{code}.json": _file(
            json.dumps(catalogue, ensure_ascii=False, sort_keys=True).encode(), f"{code}.json"
        )
        for code, catalogue in compiled_catalogues(locales_dir).items()
    }
    languages = [name.removesuffix(".json") for name in catalogues] or ["en"]
    built = _load(static_dir / "index.html") if (static_dir / "index.html").is_file() else None
    pages = {lang: _localised(built, lang, languages) for lang in languages} if built else {}
    assets_dir = static_dir / "assets"
    assets = (
        {p.name: _load(p) for p in sorted(assets_dir.iterdir()) if p.is_file()}
        if assets_dir.is_dir()
        else {}
    )

    async def page(request: Request) -> Response:
        if not pages:
            return PlainTextResponse(
                "the dashboard is not built: run `npm ci && npm run build` in frontend/",
                status_code=503,
            )
        lang = negotiate(request.headers.get("accept-language"), languages, languages[0])
        return _respond(request, pages[lang], INDEX_CACHE, {"Vary": "Accept-Language"})

    async def slash(request: Request) -> Response:
        return RedirectResponse("/dashboard", status_code=308)

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            return PlainTextResponse("not found", status_code=404, headers=SECURITY_HEADERS)
        return _respond(request, found, ASSET_CACHE)

    async def catalogue(request: Request) -> Response:
        found = catalogues.get(request.path_params["name"])
        if found is None:
            return PlainTextResponse("not found", status_code=404, headers=SECURITY_HEADERS)
        return _respond(request, found, INDEX_CACHE)

    return [
        Route("/dashboard", page, methods=["GET", "HEAD"]),
        Route("/dashboard/", slash, methods=["GET", "HEAD"]),
        Route("/dashboard/assets/{name}", asset, methods=["GET", "HEAD"]),
        Route("/dashboard/i18n/{name}", catalogue, methods=["GET", "HEAD"]),
    ]
