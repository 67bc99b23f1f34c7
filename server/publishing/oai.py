"""OAI-PMH 2.0 (https://www.openarchives.org/OAI/openarchivesprotocol.html): the public
records of published versions for harvesters, in `oai_dc` and `oai_datacite`.

`respond` answers one request (its arguments as the (name, value) pairs of the query string
or form body) as a stream of XML text; every error the protocol names is an <error> element
in a 200 response. Lists are read a page at a time by keyset on (datestamp, version id);
a harvest's upper bound is fixed at its first page and carried, signed, in the resumption
token with the keyset position, so records stamped after the harvest began wait for the next
harvest instead of shifting its pages (none skipped, none repeated). A page's records are
read with `load_records` in batches, so memory stays flat in the page size."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.publishing import oai_queries as queries
from server.publishing.loading import load_records
from server.publishing.oai_datacite import DATACITE_NS, DATACITE_SCHEMA, oai_datacite
from server.publishing.oai_dc import OAI_DC_NS, OAI_DC_SCHEMA, attr, datestamp, oai_dc, text
from server.publishing.oai_queries import Header, Window
from server.publishing.record import VersionRecord

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
TOKEN_SPACE = "oai-resumption-token"
BATCH = 500  # at most, records read by one load_records within a page

# verb: (required, optional, exclusive) arguments
VERBS: dict[str, tuple[frozenset[str], frozenset[str], str | None]] = {
    "Identify": (frozenset(), frozenset(), None),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"}), None),
    "ListSets": (frozenset(), frozenset(), "resumptionToken"),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset(), None),
    "ListIdentifiers": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
    "ListRecords": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_SET_SPEC = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$")
_IDENTIFIER = re.compile(r"^oai:([^:]+):version-(\d+)$")

# (record, base URL, today, its DOI or None) -> the <metadata> element's content
Writer = Callable[[VersionRecord, str, dt.date, str | None], str]
# (session, version ids) -> {version id: DOI} of those that have one


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str
    write: Writer


def _oai_dc(record: VersionRecord, base: str, today: dt.date, doi: str | None) -> str:
    return oai_dc(record, base, today=today, doi=doi)


FORMATS: dict[str, MetadataFormat] = {
    "oai_dc": MetadataFormat("oai_dc", OAI_DC_SCHEMA, OAI_DC_NS, _oai_dc),
    "oai_datacite": MetadataFormat("oai_datacite", DATACITE_SCHEMA, DATACITE_NS, oai_datacite),
}


@dataclass(frozen=True)
class Repository:
    """What the protocol needs of the server: sessions, a signer (HMAC of a message with the
    server's secret) and the settings of its Identify answer and its pages."""

    sessions: async_sessionmaker[AsyncSession]
    sign: Callable[[str], str]
    name: str
    admin_email: str
    namespace: str | None  # of identifiers; None: the base URL's host
    page_size: int = 100
    token_lifetime: dt.timedelta = dt.timedelta(hours=24)
    formats: dict[str, MetadataFormat] = field(default_factory=lambda: dict(FORMATS))


class OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---- arguments ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Arguments:
    verb: str
    values: dict[str, str]


def parse(pairs: Sequence[tuple[str, str]]) -> Arguments:
    """The request's verb and arguments, or the OaiError (badVerb, badArgument) the protocol
    gives for a missing, repeated, unknown or illegal one."""
    verbs = [v for k, v in pairs if k == "verb"]
    if len(verbs) != 1:
        raise OaiError("badVerb", "the verb argument is missing or repeated")
    verb = verbs[0]
    if verb not in VERBS:
        raise OaiError("badVerb", f"{verb!r} is not an OAI-PMH verb")
    required, optional, exclusive = VERBS[verb]
    values: dict[str, str] = {}
    for key, value in pairs:
        if key == "verb":
            continue
        if key in values:
            raise OaiError("badArgument", f"the argument {key!r} is repeated")
        if key not in required | optional and key != exclusive:
            raise OaiError("badArgument", f"{verb} takes no argument {key!r}")
        values[key] = value
    if exclusive and exclusive in values:
        if len(values) > 1:
            raise OaiError("badArgument", f"{exclusive} is an exclusive argument")
        return Arguments(verb, values)
    if missing := sorted(required - set(values)):
        raise OaiError("badArgument", f"{verb} needs the argument {missing[0]!r}")
    _check_dates(values)
    if "set" in values and not _SET_SPEC.match(values["set"]):
        raise OaiError("badArgument", "set is not a setSpec")
    return Arguments(verb, values)


def _date(value: str, *, end: bool) -> dt.datetime:
    """A from/until value as a moment: a day starts at 00:00:00; as `until` it ends at the
    next day's start (exclusive), and a second at the next second's: until is inclusive."""
    try:
        if _DAY.match(value):
            day = dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
            return day + dt.timedelta(days=1) if end else day
        if _SECOND.match(value):
            moment = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            return moment + dt.timedelta(seconds=1) if end else moment
    except ValueError:
        pass
    raise OaiError("badArgument", f"{value!r} is not a UTC date (YYYY-MM-DD[Thh:mm:ssZ])")


def _check_dates(values: dict[str, str]) -> None:
    start, until = values.get("from"), values.get("until")
    bounds = [_date(start, end=False) if start else None, _date(until, end=True) if until else None]
    if start and until:
        if len(start) != len(until):
            raise OaiError("badArgument", "from and until have different granularities")
        if bounds[0] and bounds[1] and bounds[0] >= bounds[1]:
            raise OaiError("badArgument", "from is later than until")


# ---- resumption tokens --------------------------------------------------------------------


@dataclass(frozen=True)
class Harvest:
    """A list request's state, carried from page to page in its resumption token."""

    verb: str
    prefix: str
    window: Window
    cursor: int  # records delivered before this page
    size: int | None  # completeListSize, counted at the first page that needed a token


def _moment(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def encode_token(repo: Repository, harvest: Harvest, expires: int) -> str:
    w = harvest.window
    body = {
        "v": harvest.verb,
        "m": harvest.prefix,
        "s": w.set_spec,
        "f": w.start.isoformat() if w.start else None,
        "u": w.end.isoformat() if w.end else None,
        "b": w.bound.isoformat(),
        "a": [w.after[0].isoformat(), w.after[1]] if w.after else None,
        "c": harvest.cursor,
        "n": harvest.size,
        "e": expires,
    }
    payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode())
    message = payload.decode().rstrip("=")
    return f"{message}.{repo.sign(message)[:32]}"


def decode_token(repo: Repository, token: str, verb: str) -> Harvest:
    """The harvest a token continues; badResumptionToken when it was not issued here (its
    signature), has expired, or belongs to another verb."""
    message, _, mac = token.rpartition(".")
    if not message or not hmac.compare_digest(repo.sign(message)[:32], mac):
        raise OaiError("badResumptionToken", "the resumption token is not one of ours")
    try:
        body = json.loads(base64.urlsafe_b64decode(message + "=" * (-len(message) % 4)))
        after = body["a"]
        harvest = Harvest(
            verb=body["v"],
            prefix=body["m"],
            window=Window(
                start=_moment(body["f"]),
                end=_moment(body["u"]),
                bound=dt.datetime.fromisoformat(body["b"]),
                set_spec=body["s"],
                after=(dt.datetime.fromisoformat(after[0]), int(after[1])) if after else None,
            ),
            cursor=int(body["c"]),
            size=body["n"],
        )
        expires = int(body["e"])
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise OaiError("badResumptionToken", "the resumption token is malformed") from error
    if expires < time.time():
        raise OaiError("badResumptionToken", "the resumption token has expired")
    if harvest.verb != verb:
        raise OaiError("badResumptionToken", f"the resumption token is not one of {verb}")
    return harvest


# ---- the response -------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _open(base: str, arguments: Arguments | None) -> str:
    attrs = ""
    if arguments is not None:
        pairs = {"verb": arguments.verb, **arguments.values}
        attrs = "".join(f' {k}="{attr(v)}"' for k, v in pairs.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI_NS}"'
        f' xsi:schemaLocation="{OAI_NS} {OAI_SCHEMA}">'
        f"<responseDate>{datestamp(_now())}</responseDate>"
        f"<request{attrs}>{text(endpoint(base))}</request>"
    )


def endpoint(base: str) -> str:
    return f"{base.rstrip('/')}/oai"


def _error(error: OaiError) -> str:
    return f'<error code="{error.code}">{text(error.message)}</error>'


CLOSE = "</OAI-PMH>\n"


async def respond(
    repo: Repository, pairs: Sequence[tuple[str, str]], base: str
) -> AsyncIterator[str]:
    """The response to one request, as chunks of XML text."""
    try:
        arguments = parse(pairs)
    except OaiError as error:  # badVerb, badArgument: the request element without arguments
        yield _open(base, None) + _error(error) + CLOSE
        return
    verb = VERBS_IMPL[arguments.verb]
    chunks = verb(repo, arguments, base)
    try:
        first = await anext(chunks)
    except OaiError as error:
        yield _open(base, arguments) + _error(error) + CLOSE
        return
    yield _open(base, arguments) + first
    async for chunk in chunks:
        yield chunk
    yield CLOSE


def namespace(repo: Repository, base: str) -> str:
    return repo.namespace or urlsplit(base).hostname or "localhost"


def identifier(repo: Repository, base: str, version_id: int) -> str:
    return f"oai:{namespace(repo, base)}:version-{version_id}"


def version_of(repo: Repository, base: str, value: str) -> int:
    """The version an identifier names; idDoesNotExist when it is not one of ours."""
    match = _IDENTIFIER.match(value)
    if match is None or match.group(1) != namespace(repo, base):
        raise OaiError("idDoesNotExist", f"{value!r} is not an identifier of this repository")
    return int(match.group(2))


def _format(repo: Repository, prefix: str) -> MetadataFormat:
    found = repo.formats.get(prefix)
    if found is None:
        raise OaiError("cannotDisseminateFormat", f"no metadata format {prefix!r} here")
    return found


def _header(repo: Repository, base: str, header: Header, specs: Sequence[str]) -> str:
    status = ' status="deleted"' if header.deleted else ""
    sets = "".join(f"<setSpec>{text(s)}</setSpec>" for s in specs)
    return (
        f"<header{status}><identifier>{text(identifier(repo, base, header.version_id))}"
        f"</identifier><datestamp>{datestamp(header.datestamp)}</datestamp>{sets}</header>"
    )


def record_element(
    repo: Repository,
    base: str,
    header: Header,
    specs: Sequence[str],
    record: VersionRecord | None,
    fmt: MetadataFormat,
    today: dt.date,
) -> str:
    """A <record>: a header with `status="deleted"` and no metadata when the public may no
    longer see the version (or its row says so before the record's level changed)."""
    if header.deleted or record is None:
        gone = Header(header.version_id, header.dataset_id, header.datestamp, True)
        return f"<record>{_header(repo, base, gone, specs)}</record>"
    metadata = fmt.write(record, base, today, record.doi)
    return f"<record>{_header(repo, base, header, specs)}<metadata>{metadata}</metadata></record>"


# ---- the verbs ----------------------------------------------------------------------------


async def identify(repo: Repository, _: Arguments, base: str) -> AsyncIterator[str]:
    async with repo.sessions() as session:
        earliest = await queries.earliest(session)
    yield (
        "<Identify>"
        f"<repositoryName>{text(repo.name)}</repositoryName>"
        f"<baseURL>{text(endpoint(base))}</baseURL>"
        "<protocolVersion>2.0</protocolVersion>"
        f"<adminEmail>{text(repo.admin_email)}</adminEmail>"
        f"<earliestDatestamp>{datestamp(earliest or _now())}</earliestDatestamp>"
        "<deletedRecord>persistent</deletedRecord>"
        "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>"
        "</Identify>"
    )


async def list_metadata_formats(
    repo: Repository, arguments: Arguments, base: str
) -> AsyncIterator[str]:
    if "identifier" in arguments.values:
        version_id = version_of(repo, base, arguments.values["identifier"])
        async with repo.sessions() as session:
            if await queries.header(session, version_id) is None:
                raise OaiError("idDoesNotExist", "no record has this identifier")
    formats = "".join(
        f"<metadataFormat><metadataPrefix>{f.prefix}</metadataPrefix>"
        f"<schema>{text(f.schema)}</schema>"
        f"<metadataNamespace>{text(f.namespace)}</metadataNamespace></metadataFormat>"
        for f in repo.formats.values()
    )
    yield f"<ListMetadataFormats>{formats}</ListMetadataFormats>"


async def list_sets(repo: Repository, arguments: Arguments, _: str) -> AsyncIterator[str]:
    if "resumptionToken" in arguments.values:  # the sets come in one answer: none issued
        raise OaiError("badResumptionToken", "ListSets issues no resumption tokens")
    async with repo.sessions() as session:
        found = await queries.sets(session)
    if not found:
        raise OaiError("noSetHierarchy", "the repository has no sets yet")
    sets = "".join(
        f"<set><setSpec>{text(s.spec)}</setSpec><setName>{text(s.name)}</setName></set>"
        for s in found
    )
    yield f"<ListSets>{sets}</ListSets>"


async def get_record(repo: Repository, arguments: Arguments, base: str) -> AsyncIterator[str]:
    fmt = _format(repo, arguments.values["metadataPrefix"])
    version_id = version_of(repo, base, arguments.values["identifier"])
    today = _now().date()
    async with repo.sessions() as session:
        header = await queries.header(session, version_id)
        if header is None:
            raise OaiError("idDoesNotExist", "no record has this identifier")
        specs = await queries.set_specs(session, [header.dataset_id])
        records = {} if header.deleted else await load_records(session, [version_id])
    found = records.get(version_id)
    specs_of = specs[header.dataset_id]
    record = record_element(repo, base, header, specs_of, found, fmt, today)
    yield f"<GetRecord>{record}</GetRecord>"


def _harvest(repo: Repository, arguments: Arguments) -> Harvest:
    """The harvest a list request starts or continues."""
    values = arguments.values
    if "resumptionToken" in values:
        harvest = decode_token(repo, values["resumptionToken"], arguments.verb)
        _format(repo, harvest.prefix)
        return harvest
    _format(repo, values["metadataPrefix"])
    start, until = values.get("from"), values.get("until")
    window = Window(
        start=_date(start, end=False) if start else None,
        end=_date(until, end=True) if until else None,
        bound=_now(),
        set_spec=values.get("set"),
    )
    return Harvest(arguments.verb, values["metadataPrefix"], window, cursor=0, size=None)


async def list_records(repo: Repository, arguments: Arguments, base: str) -> AsyncIterator[str]:
    """ListRecords and ListIdentifiers: one page of the harvest, and the token of the next."""
    harvest = _harvest(repo, arguments)
    fmt = _format(repo, harvest.prefix)
    async with repo.sessions() as session:
        headers = await queries.page(session, harvest.window, repo.page_size + 1)
        more = len(headers) > repo.page_size
        headers = headers[: repo.page_size]
        size = harvest.size
        if more and size is None:
            size = await queries.count(session, harvest.window)
    if not headers:
        raise OaiError("noRecordsMatch", "no records match the request")
    yield f"<{arguments.verb}>"
    today = _now().date()
    step = min(BATCH, repo.page_size)
    for start in range(0, len(headers), step):
        batch = headers[start : start + step]
        async with repo.sessions() as session:
            if arguments.verb == "ListIdentifiers":
                specs = await queries.set_specs(session, [h.dataset_id for h in batch])
                yield "".join(_header(repo, base, h, specs[h.dataset_id]) for h in batch)
                continue
            live = [h.version_id for h in batch if not h.deleted]
            records = await load_records(session, live, today=today)
            # a loaded record knows its sets; the others' are read
            gone = [h.dataset_id for h in batch if h.version_id not in records]
            specs = await queries.set_specs(session, gone)
        specs.update((r.dataset_id, set_specs_of(r)) for r in records.values())
        yield "".join(
            record_element(
                repo,
                base,
                h,
                specs[h.dataset_id],
                records.get(h.version_id),
                fmt,
                today,
            )
            for h in batch
        )
    yield _resumption(repo, harvest, headers, more, size) + f"</{arguments.verb}>"


def set_specs_of(record: VersionRecord) -> list[str]:
    """The sets of a record, as queries.set_specs lists them (themes, project, countries)."""
    return [
        *(f"theme:{t.code}" for t in record.themes),
        f"project:{record.project.id}",
        *(f"country:{c}" for c in record.project.countries),
    ]


def _resumption(
    repo: Repository, harvest: Harvest, headers: list[Header], more: bool, size: int | None
) -> str:
    """The page's <resumptionToken>: the next page's, or empty on the last page of a list
    that had more than one; nothing on a list of a single page."""
    if not more and harvest.cursor == 0:
        return ""
    delivered = harvest.cursor + len(headers)
    total = size if size is not None else delivered
    if not more:
        return f'<resumptionToken completeListSize="{total}" cursor="{harvest.cursor}"/>'
    last = headers[-1]
    after = replace(harvest.window, after=(last.datestamp, last.version_id))
    expires = int(time.time() + repo.token_lifetime.total_seconds())
    nxt = Harvest(harvest.verb, harvest.prefix, after, cursor=delivered, size=total)
    expiry = datestamp(dt.datetime.fromtimestamp(expires, dt.UTC))
    return (
        f'<resumptionToken expirationDate="{expiry}" completeListSize="{total}"'
        f' cursor="{harvest.cursor}">{encode_token(repo, nxt, expires)}</resumptionToken>'
    )


VERBS_IMPL: dict[str, Callable[[Repository, Arguments, str], AsyncIterator[str]]] = {
    "Identify": identify,
    "ListMetadataFormats": list_metadata_formats,
    "ListSets": list_sets,
    "GetRecord": get_record,
    "ListIdentifiers": list_records,
    "ListRecords": list_records,
}
