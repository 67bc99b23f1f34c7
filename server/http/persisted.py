"""Persisted documents: Apollo's automatic persisted queries (APQ) and trusted documents.

A request may name its document by the sha256 of its text instead of sending it:
`"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<64 hex>"}}` (POST, or GET
with `extensions` as JSON in the URL). Unknown hash: `PERSISTED_QUERY_NOT_FOUND`, and the
client sends the text with the hash once, which registers it (APQ, version 1).

- APQ documents are kept in this process, least recently used out, up to
  `SATREPS_APQ_CACHE_BYTES` of text (0: APQ off, `PERSISTED_QUERY_NOT_SUPPORTED`). Losing
  one costs a client one round trip (it sends the text again), so neither the database nor
  Redis holds them; every replica learns its own.
- Trusted documents are the deployment's own: `SATREPS_TRUSTED_DOCUMENTS` names a directory
  of `.graphql` files (each file one document; its id the sha256 of its text exactly as
  stored) or a JSON manifest (Apollo's persisted-query manifest, `{"format":
  "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "body", ...}]}`, or a
  plain `{"<sha256>": "<text>"}` map). They are read, checked (each id the sha256 of its
  text, each document valid against the schema) when the app starts; a bad one stops it.
  With `SATREPS_TRUSTED_DOCUMENTS_ONLY=true` (production) nothing else runs: other text
  is refused (`PERSISTED_QUERY_NOT_IN_LIST`) and APQ registers nothing.

The hash is the compiled fast path's key (schema/compiled/fast.py): a request that sends
only a hash is answered from its plan without the text being looked up, hashed or parsed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from server.core.config import Settings

_HASH = re.compile(r"^[0-9a-f]{64}$")
MANIFEST_FORMAT = "apollo-persisted-query-manifest"


class PersistedQueryCode(StrEnum):
    NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
    VERSION_UNSUPPORTED = "PERSISTED_QUERY_VERSION_UNSUPPORTED"
    INVALID = "PERSISTED_QUERY_INVALID"
    NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"


@dataclass(frozen=True)
class Refusal:
    code: PersistedQueryCode
    message: str
    status: int  # with application/json; application/graphql-response+json: at least 400


# Apollo's messages, which its clients' links look for; NOT_FOUND and NOT_SUPPORTED answer
# 200 in application/json as Apollo Server does (the client retries with the text)
NOT_FOUND = Refusal(PersistedQueryCode.NOT_FOUND, "PersistedQueryNotFound", 200)
NOT_SUPPORTED = Refusal(PersistedQueryCode.NOT_SUPPORTED, "PersistedQueryNotSupported", 200)
MISMATCH = Refusal(PersistedQueryCode.HASH_MISMATCH, "provided sha does not match query", 400)
VERSION = Refusal(
    PersistedQueryCode.VERSION_UNSUPPORTED, "Unsupported persisted query version", 400
)
NOT_IN_LIST = Refusal(
    PersistedQueryCode.NOT_IN_LIST,
    "this server runs only its trusted documents: send the sha256Hash of one of them",
    400,
)


def _invalid(message: str) -> Refusal:
    return Refusal(PersistedQueryCode.INVALID, message, 400)


@dataclass(frozen=True)
class Resolved:
    """What a request runs: `query`, looked up by its hash (None: the request's own text);
    `register`, the hash to keep the request's text under once it has validated."""

    hash: str | None = None
    query: str | None = None
    register: str | None = None


PLAIN = Resolved()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class DocumentCache:
    """APQ documents by hash, least recently used out, at most `limit` bytes of text."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._texts: OrderedDict[str, str] = OrderedDict()

    def get(self, digest: str) -> str | None:
        text = self._texts.get(digest)
        if text is not None:
            self._texts.move_to_end(digest)
        return text

    def put(self, digest: str, text: str) -> None:
        cost = len(text.encode())
        if cost > self.limit or digest in self._texts:
            return
        self._texts[digest] = text
        self.size += cost
        while self.size > self.limit:
            _, dropped = self._texts.popitem(last=False)
            self.size -= len(dropped.encode())


class TrustedDocumentsError(ValueError):
    """A trusted-documents source that cannot be used (the app does not start)."""


def read_trusted(source: Path) -> dict[str, str]:
    """The documents of a directory of .graphql files or of a JSON manifest, by sha256."""
    if source.is_dir():
        files = sorted(source.rglob("*.graphql"))
        return {sha256_hex(text): text for text in (f.read_text("utf-8") for f in files)}
    if not source.is_file():
        raise TrustedDocumentsError(f"{source}: no such file or directory")
    try:
        manifest = json.loads(source.read_text("utf-8"))
    except ValueError as error:
        raise TrustedDocumentsError(f"{source}: not JSON ({error})") from None
    return _manifest_documents(source, manifest)


def _manifest_documents(source: Path, manifest: Any) -> dict[str, str]:
    if isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT:
        if manifest.get("version") != 1:
            raise TrustedDocumentsError(f"{source}: only version 1 manifests are read")
        pairs = [(op.get("id"), op.get("body")) for op in manifest.get("operations") or []]
    elif isinstance(manifest, dict):
        pairs = list(manifest.items())
    else:
        raise TrustedDocumentsError(f"{source}: not a persisted-query manifest")
    documents = {}
    for digest, text in pairs:
        if not isinstance(text, str) or not isinstance(digest, str):
            raise TrustedDocumentsError(f"{source}: every entry needs an id and a body")
        if sha256_hex(text) != digest.lower():
            raise TrustedDocumentsError(f"{source}: {digest} is not the sha256 of its body")
        documents[digest.lower()] = text
    return documents


def check_documents(documents: Mapping[str, str], schema: Any) -> list[str]:
    """Each document that does not parse or validate against `schema` (a GraphQLSchema),
    as 'hash: message'."""
    from graphql import GraphQLError, parse, validate

    problems = []
    for digest, text in documents.items():
        try:
            errors = validate(schema, parse(text))
        except GraphQLError as error:
            errors = [error]
        problems += [f"{digest}: {error.message}" for error in errors]
    return problems


def manifest(documents: Mapping[str, str]) -> dict[str, Any]:
    """The documents as an Apollo persisted-query manifest (version 1), each operation with
    its name and type (of its first operation)."""
    from graphql import OperationDefinitionNode, parse

    operations = []
    for digest, text in sorted(documents.items()):
        first = next(d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode))
        name = first.name.value if first.name else None
        kind = first.operation.value
        operations.append({"id": digest, "name": name, "type": kind, "body": text})
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": operations}


class PersistedDocuments:
    """The app's trusted documents and APQ cache, and the rules that choose between them."""

    def __init__(
        self,
        trusted: Mapping[str, str] | None = None,
        *,
        only_trusted: bool = False,
        apq_bytes: int = 0,
    ) -> None:
        self.trusted = dict(trusted or {})
        self.only_trusted = only_trusted
        self.apq = DocumentCache(apq_bytes) if apq_bytes > 0 and not only_trusted else None

    @classmethod
    def from_settings(cls, settings: Settings, schema: Any) -> PersistedDocuments:
        trusted: dict[str, str] = {}
        if settings.trusted_documents is not None:
            trusted = read_trusted(settings.trusted_documents)
            if problems := check_documents(trusted, schema):
                raise TrustedDocumentsError(
                    f"{settings.trusted_documents}: invalid documents:\n" + "\n".join(problems)
                )
        elif settings.trusted_documents_only:
            raise TrustedDocumentsError(
                "SATREPS_TRUSTED_DOCUMENTS_ONLY needs SATREPS_TRUSTED_DOCUMENTS"
            )
        return cls(
            trusted,
            only_trusted=settings.trusted_documents_only,
            apq_bytes=settings.apq_cache_bytes,
        )

    def resolve(self, payload: Any) -> Resolved | Refusal:
        """What the request (a JSON body, or GET parameters as one) runs, or why not."""
        if not isinstance(payload, dict):
            return PLAIN  # strawberry answers what is not a GraphQL request
        query = payload.get("query")
        extensions = payload.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            if self.only_trusted and isinstance(query, str):
                return PLAIN if sha256_hex(query) in self.trusted else NOT_IN_LIST
            return PLAIN
        digest = _digest(persisted)
        if isinstance(digest, Refusal):
            return digest
        if isinstance(query, str):
            return self._with_text(digest, query)
        if query is not None:
            return PLAIN  # strawberry refuses a query that is not a string
        text = self.trusted.get(digest)
        if text is None and self.apq is not None:
            text = self.apq.get(digest)
        if text is not None:
            return Resolved(digest, text)
        if self.apq is None and not self.trusted:
            return NOT_SUPPORTED
        return NOT_FOUND

    def _with_text(self, digest: str, query: str) -> Resolved | Refusal:
        if sha256_hex(query) != digest:
            return MISMATCH
        if digest in self.trusted:
            return Resolved(digest)
        if self.only_trusted:
            return NOT_IN_LIST
        if self.apq is None:
            return NOT_SUPPORTED
        return Resolved(digest, register=digest)

    def allows(self, query: str) -> bool:
        """Whether a document's text is one of the trusted documents."""
        return sha256_hex(query) in self.trusted

    def register(self, resolved: Resolved, query: str) -> None:
        """Keep a registering request's text once it has validated (APQ)."""
        if resolved.register is not None and self.apq is not None:
            self.apq.put(resolved.register, query)


def _digest(persisted: Any) -> str | Refusal:
    if not isinstance(persisted, dict):
        return _invalid("extensions.persistedQuery must be an object")
    if persisted.get("version") != 1:
        return VERSION
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _HASH.match(digest.lower()):
        return _invalid("extensions.persistedQuery.sha256Hash must be 64 hex digits")
    return digest.lower()
