"""The landing pages of public records, for people and machines on the same URLs:

    GET /datasets/{id}                          the dataset's latest public version
    GET /datasets/{id}/versions/{n}             version n
    GET /datasets/{id}/versions/{n}/files/{path} 303 to a fresh signed download URL
    GET /projects/{id}                          the project and its public datasets
    GET /catalog (.ttl, .jsonld)                the DCAT-AP catalogue (server/publishing/dcat.py)

A page is HTML (Jinja2, the dashboard's stylesheet, the dashboard's catalogues for English
and Japanese, a strict Content-Security-Policy) carrying schema.org JSON-LD, Dublin Core
`<meta>` tags and FAIR Signposting `Link` headers. The same URL answers the metadata formats
by `Accept` (or `?format=`, for links): JSON-LD, DataCite JSON and XML, BibTeX, RIS, CSL-JSON
and a formatted citation (`text/x-bibliography; style=...`); anything else is 406 with what
is offered. Only public records are shown: anything else is 404, as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.access.auth import ANONYMOUS
from server.core.config import Settings
from server.core.errors import DomainError
from server.core.languages import accepted_languages
from server.core.url_signing import UrlSigner
from server.datasets.downloads import DownloadCode, issue_download
from server.http.dashboard import SECURITY_HEADERS, STATIC_DIR
from server.http.forwarded import base_url
from server.http.i18n import DOMAIN, LOCALES_DIR, available_locales, negotiate, read_catalogue
from server.http.negotiation import choose
from server.publishing import citations, datacite, dcat, schemaorg
from server.publishing.citations import CitationFormat, CitationStyle
from server.publishing.pages import DatasetPage, ProjectPage, dataset_page, project_page
from server.publishing.record import Text, VersionRecord, pick
from server.publishing.urls import dataset_path, project_path
from server.storage import ObjectStore

TEMPLATES = Path(__file__).parent / "templates"
HTML = "text/html"
# ?style= and text/x-bibliography's style parameter: CSL style ids, and Vancouver's own
STYLES = {style.value: style for style in CitationStyle} | {"vancouver": CitationStyle.VANCOUVER}
STYLE_LABELS = {
    CitationStyle.APA: "APA",
    CitationStyle.CHICAGO_AUTHOR_DATE: "Chicago",
    CitationStyle.HARVARD: "Harvard",
    CitationStyle.IEEE: "IEEE",
    CitationStyle.VANCOUVER: "Vancouver",
}
PAGE_CACHE = "public, max-age=300"
# the catalogue's media types and rdflib's names of them; text/html gets Turtle
CATALOG_TYPES = {"text/turtle": "turtle", "application/ld+json": "json-ld", "text/html": "turtle"}
CATALOG_SUFFIXES: dict[str, tuple[str, dict[str, str]]] = {
    "ttl": ("text/turtle", {}),
    "jsonld": ("application/ld+json", {}),
}


@dataclass(frozen=True)
class Format:
    query: str  # ?format=<query>
    media: str
    label: str
    write: Callable[[str, VersionRecord, dict[str, str]], str]  # (base, record, params)
    metadata: bool = True  # a describedby link of the page
    needs_doi: bool = False  # offered only for a record with a DOI


def _url(base: str, record: VersionRecord) -> str:
    return schemaorg.version_url(base, record)


def _jsonld(base: str, record: VersionRecord, params: dict[str, str]) -> str:
    return json.dumps(schemaorg.dataset_jsonld(base, record), ensure_ascii=False, indent=2)


def _citation(base: str, record: VersionRecord, params: dict[str, str]) -> str:
    style = STYLES[params.get("style", CitationStyle.APA.value)]
    return citations.render(record, _url(base, record), style) + "\n"


def _bibtex(base: str, record: VersionRecord, params: dict[str, str]) -> str:
    return citations.bibtex(record, _url(base, record))


def _ris(base: str, record: VersionRecord, params: dict[str, str]) -> str:
    return citations.ris(record, _url(base, record))


def _csl(base: str, record: VersionRecord, params: dict[str, str]) -> str:
    return citations.csl_json_text(record, _url(base, record))


# SATREPS's funders, as DataCite funding references
FUNDERS = tuple(datacite.Funder(f["name"]) for f in schemaorg.FUNDERS)


def _datacite(base: str, record: VersionRecord) -> dict[str, Any]:
    """DataCite 4.5 attributes: without a DOI yet, those of a draft (no `doi`)."""
    return datacite.to_datacite_json(
        record,
        doi=citations.doi_of(record) or "",
        base_url=base,
        concept_doi=getattr(record, "concept_doi", None),
        funders=FUNDERS,
    )


def _datacite_json(base: str, record: VersionRecord, params: dict[str, str]) -> str:
    return json.dumps(_datacite(base, record), ensure_ascii=False, indent=2)


def _datacite_xml(base: str, record: VersionRecord, params: dict[str, str]) -> str:
    return datacite.xml_of(_datacite(base, record))


FORMATS = [
    Format("jsonld", "application/ld+json", "JSON-LD (schema.org)", _jsonld),
    Format(
        "datacite-json",
        "application/vnd.datacite.datacite+json",
        "DataCite JSON",
        _datacite_json,
    ),
    # the kernel-4 XML needs its identifier: a DOI
    Format(
        "datacite-xml",
        "application/vnd.datacite.datacite+xml",
        "DataCite XML",
        _datacite_xml,
        needs_doi=True,
    ),
    Format("bibtex", "application/x-bibtex", "BibTeX", _bibtex),
    Format("ris", "application/x-research-info-systems", "RIS", _ris),
    Format("csl-json", "application/vnd.citationstyles.csl+json", "CSL-JSON", _csl),
    Format("citation", "text/x-bibliography", "Citation", _citation, metadata=False),
]
BY_QUERY = {f.query: f for f in FORMATS}
BY_MEDIA = {f.media: f for f in FORMATS}


def offered(record: VersionRecord) -> list[Format]:
    has_doi = citations.doi_of(record) is not None
    return [f for f in FORMATS if has_doi or not f.needs_doi]


def dataset_types(record: VersionRecord) -> list[str]:
    return [HTML, "application/xhtml+xml", *(f.media for f in offered(record))]


def described_by(record: VersionRecord) -> list[tuple[str, str]]:
    return [(f.query, f.media) for f in offered(record) if f.metadata]


def error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body = {"error": {"code": code, "message": message, **extra}}
    return JSONResponse(body, status_code=status, headers={"Vary": "Accept"})


def not_found() -> JSONResponse:
    return error(404, DownloadCode.NOT_FOUND, "no public record here")


def not_acceptable(offered: list[str]) -> JSONResponse:
    return error(
        406,
        DownloadCode.NOT_ACCEPTABLE,
        "none of the Accept header's types is offered here",
        offered=offered,
        styles=sorted(STYLES),
    )


# ---- templates ---------------------------------------------------------------------------


def _translations(code: str, locales_dir: Path) -> Translations:
    catalog = read_catalogue(locales_dir / code.replace("-", "_") / "LC_MESSAGES" / f"{DOMAIN}.po")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def environments(locales_dir: Path = LOCALES_DIR) -> dict[str, Environment]:
    """A Jinja2 environment per language, each with its catalogue installed (newstyle
    gettext: escaped, `%(name)s` placeholders)."""
    found: dict[str, Environment] = {}
    for code in available_locales(locales_dir) or ["en"]:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(_translations(code, locales_dir), newstyle=True)  # type: ignore[attr-defined]
        found[code] = env
    return found


def _stylesheet() -> str | None:
    built = sorted((STATIC_DIR / "assets").glob("dashboard-*.css"))
    return f"/dashboard/assets/{built[-1].name}" if built else None


def _script_json(value: Any) -> Markup:
    """JSON for a `<script type="application/ld+json">` block: no `</script>` can end it."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _text(texts: tuple[Text, ...], languages: tuple[str, ...], ui: str) -> Text | None:
    """The value in the reader's most preferred language that the record has, else the
    interface's language, else English, else the original."""
    for lang in languages:
        for text in texts:
            if text.lang.lower() == lang.lower() or text.lang.split("-")[0] == lang.split("-")[0]:
                return text
    return pick(texts, ui)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


# ---- the routes --------------------------------------------------------------------------


class Landing:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        signer: UrlSigner,
        locales_dir: Path = LOCALES_DIR,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.store = store
        self.signer = signer
        self.envs = environments(locales_dir)
        self.languages = list(self.envs)
        self.stylesheet = _stylesheet()

    def routes(self) -> list[BaseRoute]:
        get = ["GET", "HEAD"]
        return [
            Route("/datasets/{dataset_id:int}", self.dataset, methods=get),
            Route("/datasets/{dataset_id:int}/versions/{number:int}", self.dataset, methods=get),
            Route(
                "/datasets/{dataset_id:int}/versions/{number:int}/files/{path:path}",
                self.file,
                methods=get,
            ),
            Route("/projects/{project_id:int}", self.project, methods=get),
            Route("/catalog", self.catalog, methods=get),
            Route("/catalog.ttl", self.catalog, methods=get),
            Route("/catalog.jsonld", self.catalog, methods=get),
            Route("/landing/style.css", self.style, methods=get),
        ]

    # -- datasets

    async def dataset(self, request: Request) -> Response:
        number = request.path_params.get("number")
        async with self.sessions() as session:
            page = await dataset_page(session, request.path_params["dataset_id"], number)
        if page is None:
            return not_found()
        base = base_url(request.scope)
        types = dataset_types(page.record)
        chosen = self._choose(request, types)
        if chosen is None:
            return not_acceptable(types)
        media, params = chosen
        links = ", ".join(
            link.header()
            for link in schemaorg.signposts(base, page.record, described_by(page.record))
        )
        headers = {"Link": links, "Vary": "Accept, Accept-Language", "Cache-Control": PAGE_CACHE}
        if media in (HTML, "application/xhtml+xml"):
            lang = negotiate(request.headers.get("accept-language"), self.languages)
            body = self._dataset_html(request, base, page, lang)
            headers |= SECURITY_HEADERS | {"Content-Language": lang}
            return Response(body, media_type="text/html; charset=utf-8", headers=headers)
        found = BY_MEDIA[media]
        style = params.get("style") or request.query_params.get("style")
        if found.query == "citation":
            if style is not None and style.lower() not in STYLES:
                return not_acceptable(types)
            params = {"style": (style or CitationStyle.APA.value).lower()}
        body = found.write(base, page.record, params)
        headers["Link"] = f'<{_url(base, page.record)}>; rel="describes"; type="text/html"'
        charset = "" if media.endswith("json") else "; charset=utf-8"
        return Response(body, media_type=f"{media}{charset}", headers=headers)

    def _choose(self, request: Request, types: list[str]) -> tuple[str, dict[str, str]] | None:
        asked = request.query_params.get("format")
        if asked is not None:
            found = BY_QUERY.get(asked)
            return None if found is None or found.media not in types else (found.media, {})
        return choose(request.headers.get("accept"), types)

    def _dataset_html(self, request: Request, base: str, page: DatasetPage, lang: str) -> str:
        record = page.record
        url = _url(base, record)
        readers = accepted_languages(request.headers.get("accept-language"))
        title = _text(record.titles, readers, lang)
        description = _text(record.descriptions, readers, lang)
        cited = {
            STYLE_LABELS[style]: Markup(citations.render(record, url, style, CitationFormat.HTML))
            for style in CitationStyle
        }
        today = dt.datetime.now(dt.UTC).date()
        return (
            self.envs[lang]
            .get_template("landing/dataset.html")
            .render(
                lang=lang,
                languages=self.languages,
                stylesheet=self.stylesheet,
                record=record,
                title=title,
                description=description,
                project_title=_text(record.project.titles, readers, lang),
                url=url,
                cite_as=citations.cite_url(record, url),
                citations=cited,
                exports=[
                    (f.label, f"{url}?format={f.query}") for f in offered(record) if f.metadata
                ],
                files=[
                    (f, schemaorg.file_url(base, record, f.path), _size(f.size))
                    for f in record.files
                ],
                versions=page.versions,
                latest=page.latest,
                dataset_url=schemaorg.absolute(base, dataset_path(record.dataset_id)),
                project_url=schemaorg.absolute(base, project_path(record.project.id)),
                temporal=schemaorg.temporal_coverage(record),
                embargoed=record.embargo_until is not None and record.embargo_until > today,
                jsonld=_script_json(schemaorg.dataset_jsonld(base, record, lang)),
                meta=schemaorg.dublin_core(base, record),
                size=_size(record.size),
            )
        )

    # -- files

    async def file(self, request: Request) -> Response:
        dataset_id, number = request.path_params["dataset_id"], request.path_params["number"]
        path = request.path_params["path"]
        async with self.sessions() as session:
            page = await dataset_page(session, dataset_id, number)
            entry = next((f for f in page.record.files if f.path == path), None) if page else None
            if page is None or entry is None:
                return not_found()
            if not entry.public:
                return self._refuse(page.record)
            signer = self.signer.at(base_url(request.scope))
            lifetime = dt.timedelta(minutes=self.settings.download_url_minutes)
            client = request.client.host if request.client else None
            try:
                ticket = await issue_download(
                    session,
                    ANONYMOUS,
                    self.store,
                    signer,
                    entry.id,
                    lifetime=lifetime,
                    client=client,
                )
            except DomainError as refused:
                await session.commit()  # the refusal is audited
                detail = refused.details[0]
                return error(409, detail.code, detail.message)
            await session.commit()
        headers = {
            "Cache-Control": "no-store",
            "Link": f'<{_url(base_url(request.scope), page.record)}>; rel="collection"',
        }
        return RedirectResponse(ticket.url, status_code=303, headers=headers)

    def _refuse(self, record: VersionRecord) -> Response:
        if record.embargo_until is not None:
            until = record.embargo_until.isoformat()
            return error(
                403,
                DownloadCode.EMBARGOED,
                f"this file is under embargo until {until}",
                embargoUntil=until,
            )
        return error(403, DownloadCode.NOT_PUBLIC, "the public may not read this file")

    # -- projects

    async def project(self, request: Request) -> Response:
        async with self.sessions() as session:
            page = await project_page(session, request.path_params["project_id"])
        if page is None:
            return not_found()
        base = base_url(request.scope)
        offered = [HTML, "application/xhtml+xml", "application/ld+json"]
        asked = request.query_params.get("format")
        chosen = (
            ("application/ld+json", {})
            if asked == "jsonld"
            else choose(request.headers.get("accept"), offered)
        )
        if chosen is None or (asked is not None and asked != "jsonld"):
            return not_acceptable(offered)
        url = schemaorg.absolute(base, project_path(page.project.id))
        jsonld = schemaorg.project_jsonld(
            base, page.project, page.summaries, page.institutions, page.records
        )
        links = [
            f'<{url}>; rel="cite-as"',
            f'<{url}?format=jsonld>; rel="describedby"; type="application/ld+json"',
            *(
                f'<{schemaorg.absolute(base, dataset_path(r.dataset_id))}>; rel="item";'
                ' type="text/html"'
                for r in page.records
            ),
            f'<{schemaorg.SCHEMA}ResearchProject>; rel="type"',
            f'<{schemaorg.SCHEMA}AboutPage>; rel="type"',
        ]
        headers = {
            "Link": ", ".join(links),
            "Vary": "Accept, Accept-Language",
            "Cache-Control": PAGE_CACHE,
        }
        if chosen[0] == "application/ld+json":
            body = json.dumps(jsonld, ensure_ascii=False, indent=2)
            return Response(body, media_type="application/ld+json", headers=headers)
        lang = negotiate(request.headers.get("accept-language"), self.languages)
        body = self._project_html(request, base, page, lang, jsonld)
        headers |= SECURITY_HEADERS | {"Content-Language": lang}
        return Response(body, media_type="text/html; charset=utf-8", headers=headers)

    def _project_html(
        self, request: Request, base: str, page: ProjectPage, lang: str, jsonld: dict[str, Any]
    ) -> str:
        readers = accepted_languages(request.headers.get("accept-language"))
        datasets = [
            (
                _text(r.titles, readers, lang),
                schemaorg.absolute(base, dataset_path(r.dataset_id)),
                r,
            )
            for r in page.records
        ]
        return (
            self.envs[lang]
            .get_template("landing/project.html")
            .render(
                lang=lang,
                languages=self.languages,
                stylesheet=self.stylesheet,
                project=page.project,
                title=_text(page.project.titles, readers, lang),
                summary=_text(page.summaries, readers, lang),
                institutions=page.institutions,
                datasets=datasets,
                jsonld=_script_json(jsonld),
            )
        )

    # -- the DCAT-AP catalogue

    async def catalog(self, request: Request) -> Response:
        suffix = request.url.path.rpartition(".")[2] if "." in request.url.path else None
        chosen = CATALOG_SUFFIXES.get(suffix or "") or choose(
            request.headers.get("accept"), list(CATALOG_TYPES)
        )
        if chosen is None:
            return not_acceptable(list(CATALOG_TYPES))
        media = "text/turtle" if chosen[0] == HTML else chosen[0]  # a browser: the Turtle
        async with self.sessions() as session:
            graph = await dcat.catalog(session, base_url(request.scope))
        body = graph.serialize(format=CATALOG_TYPES[media])
        headers = {"Vary": "Accept", "Cache-Control": PAGE_CACHE}
        charset = "; charset=utf-8" if media == "text/turtle" else ""
        return Response(body, media_type=f"{media}{charset}", headers=headers)

    async def style(self, request: Request) -> Response:
        body = (TEMPLATES / "landing" / "landing.css").read_bytes()
        headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
        return Response(body, media_type="text/css; charset=utf-8", headers=headers)


def landing_routes(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    signer: UrlSigner,
) -> list[BaseRoute]:
    return Landing(settings, sessions, store, signer).routes()
