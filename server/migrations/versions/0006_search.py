"""search: full-text documents of projects, datasets, institutions and researchers

PostgreSQL: a search_documents table whose tsvector ('simple' config: no stemming, no
stop words, so names in any language match as tokens) is generated and GIN-indexed.
SQLite: an FTS5 table (unicode61, diacritics folded). Triggers keep both in step with the
rows in the same transaction; server/search/queries.py reads either.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

KINDS = {"project": 0, "dataset": 1, "institution": 2, "researcher": 3}
TABLES = {
    "project": "projects",
    "dataset": "datasets",
    "institution": "institutions",
    "researcher": "researchers",
}

# (title, body) of a row `r` of each table; the dataset's body also holds its keywords and
# the column names of its files' profiles, added per dialect below
_FIELDS = {
    "project": ("r.title", "coalesce(r.acronym, '') || ' ' || coalesce(r.summary, '')"),
    "dataset": ("r.title", "coalesce(r.description, '')"),
    "institution": (
        "r.name_en",
        "coalesce(r.name_local, '') || ' ' || coalesce(r.acronym, '') || ' ' || r.country_code",
    ),
    "researcher": ("r.name_en", "coalesce(r.name_local, '') || ' ' || coalesce(r.orcid, '')"),
}

_SQLITE_DATASET_EXTRA = """
 || ' ' || coalesce((SELECT group_concat(k.value, ' ') FROM json_each(r.keywords) k), '')
 || ' ' || coalesce((SELECT group_concat(DISTINCT json_extract(c.value, '$.name'))
      FROM dataset_versions v JOIN dataset_files f ON f.version_id = v.id,
           json_each(f.profile, '$.columns') c
      WHERE v.dataset_id = r.id AND json_valid(f.profile)), '')"""

_PG_DATASET_EXTRA = """
 || ' ' || coalesce((SELECT string_agg(k, ' ') FROM json_array_elements_text(
      CASE WHEN json_typeof(r.keywords) = 'array' THEN r.keywords END) k), '')
 || ' ' || coalesce((SELECT string_agg(DISTINCT c ->> 'name', ' ')
      FROM dataset_versions v JOIN dataset_files f ON f.version_id = v.id,
           json_array_elements(CASE WHEN json_typeof(f.profile -> 'columns') = 'array'
                                    THEN f.profile -> 'columns' END) c
      WHERE v.dataset_id = r.id), '')"""


def _select(kind: str, dialect: str, where: str) -> str:
    title, body = _FIELDS[kind]
    if kind == "dataset":
        body = f"({body}{_SQLITE_DATASET_EXTRA if dialect == 'sqlite' else _PG_DATASET_EXTRA})"
    rowid = f"r.id * 4 + {KINDS[kind]}, " if dialect == "sqlite" else ""
    return f"SELECT {rowid}{title}, {body}, '{kind}', r.id FROM {TABLES[kind]} r WHERE {where}"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_up()
    else:
        _postgres_up()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES.values():
            for suffix in ("ai", "au", "ad"):
                op.execute(f"DROP TRIGGER IF EXISTS search_{table}_{suffix}")
        op.execute("DROP TRIGGER IF EXISTS search_dataset_files_ai")
        op.execute("DROP TRIGGER IF EXISTS search_dataset_files_au")
        op.execute("DROP TABLE IF EXISTS search_fts")
    else:
        for table in (*TABLES.values(), "dataset_files"):
            op.execute(f"DROP TRIGGER IF EXISTS search_{table} ON {table}")
        for kind in (*TABLES, "dataset_file"):
            op.execute(f"DROP FUNCTION IF EXISTS search_index_{kind}()")
        op.execute("DROP FUNCTION IF EXISTS search_refresh_dataset(integer)")
        op.execute("DROP TABLE IF EXISTS search_documents")


# ---- SQLite: FTS5 ----------------------------------------------------------------------


def _sqlite_up() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE search_fts USING fts5("
        "title, body, kind UNINDEXED, ref_id UNINDEXED, "
        "tokenize = 'unicode61 remove_diacritics 2')"
    )
    insert = "INSERT INTO search_fts(rowid, title, body, kind, ref_id) "
    for kind, table in TABLES.items():
        n = KINDS[kind]
        op.execute(insert + _select(kind, "sqlite", "1 = 1"))
        op.execute(
            f"CREATE TRIGGER search_{table}_ai AFTER INSERT ON {table} BEGIN "
            f"{insert}{_select(kind, 'sqlite', 'r.id = NEW.id')}; END"
        )
        op.execute(
            f"CREATE TRIGGER search_{table}_au AFTER UPDATE ON {table} BEGIN "
            f"DELETE FROM search_fts WHERE rowid = OLD.id * 4 + {n}; "
            f"{insert}{_select(kind, 'sqlite', 'r.id = NEW.id')}; END"
        )
        op.execute(
            f"CREATE TRIGGER search_{table}_ad AFTER DELETE ON {table} BEGIN "
            f"DELETE FROM search_fts WHERE rowid = OLD.id * 4 + {n}; END"
        )
    dataset_of = "(SELECT v.dataset_id FROM dataset_versions v WHERE v.id = NEW.version_id)"
    refresh = (
        f"DELETE FROM search_fts WHERE rowid = {dataset_of} * 4 + 1; "
        f"{insert}{_select('dataset', 'sqlite', f'r.id = {dataset_of}')};"
    )
    op.execute(
        f"CREATE TRIGGER search_dataset_files_ai AFTER INSERT ON dataset_files "
        f"WHEN NEW.profile IS NOT NULL BEGIN {refresh} END"
    )
    op.execute(
        f"CREATE TRIGGER search_dataset_files_au AFTER UPDATE OF profile ON dataset_files "
        f"BEGIN {refresh} END"
    )


# ---- PostgreSQL: tsvector + GIN --------------------------------------------------------


def _postgres_up() -> None:
    op.execute(
        "CREATE TABLE search_documents ("
        " kind varchar(16) NOT NULL,"
        " ref_id integer NOT NULL,"
        " title text NOT NULL,"
        " body text NOT NULL,"
        " document tsvector GENERATED ALWAYS AS ("
        "  setweight(to_tsvector('simple', title), 'A') ||"
        "  setweight(to_tsvector('simple', body), 'B')) STORED,"
        " CONSTRAINT pk_search_documents PRIMARY KEY (kind, ref_id))"
    )
    op.execute("CREATE INDEX ix_search_documents_document ON search_documents USING gin (document)")
    upsert = (
        " ON CONFLICT (kind, ref_id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body"
    )
    insert = "INSERT INTO search_documents (title, body, kind, ref_id) "
    for kind, table in TABLES.items():
        op.execute(insert + _select(kind, "postgresql", "true"))
        op.execute(
            f"CREATE FUNCTION search_index_{kind}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            "IF TG_OP = 'DELETE' THEN "
            f"DELETE FROM search_documents WHERE kind = '{kind}' AND ref_id = OLD.id; "
            "RETURN OLD; END IF; "
            f"{insert}{_select(kind, 'postgresql', 'r.id = NEW.id')}{upsert}; "
            "RETURN NEW; END $$"
        )
        op.execute(
            f"CREATE TRIGGER search_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION search_index_{kind}()"
        )
    op.execute(
        "CREATE FUNCTION search_refresh_dataset(did integer) RETURNS void LANGUAGE sql AS $$ "
        f"{insert}{_select('dataset', 'postgresql', 'r.id = did')}{upsert} $$"
    )
    op.execute(
        "CREATE FUNCTION search_index_dataset_file() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF NEW.profile IS NOT NULL THEN PERFORM search_refresh_dataset("
        "(SELECT v.dataset_id FROM dataset_versions v WHERE v.id = NEW.version_id)); END IF; "
        "RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER search_dataset_files AFTER INSERT OR UPDATE OF profile ON dataset_files "
        "FOR EACH ROW EXECUTE FUNCTION search_index_dataset_file()"
    )
