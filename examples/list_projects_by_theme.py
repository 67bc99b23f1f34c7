#!/usr/bin/env python3
"""List SATREPS projects grouped by top-level theme, page by page.

    python examples/list_projects_by_theme.py
    python examples/list_projects_by_theme.py --token "$SATREPS_TOKEN" --page-size 50

Without a token you see the public projects (approved and later phases); a token shows
what its account may see. Each theme lists the projects of the theme and of its
sub-themes, fetched with cursor pagination (`first` / `after` / `pageInfo.endCursor`).
Exits with status 1 and a message on stderr when the server refuses the request or
cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import Any

from gql import Client, GraphQLRequest
from gql.client import SyncClientSession
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.httpx import HTTPXTransport

DEFAULT_URL = "http://127.0.0.1:8000/graphql"

ROOT_THEMES = """
query RootThemes {
  themes(rootsOnly: true) { id code name }
}
"""

PROJECTS_PAGE = """
query ProjectsOfTheme($themeId: ID!, $first: Int!, $after: String) {
  projects(filter: {themeId: $themeId}, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { title acronym phase partnerCountries { code } }
  }
}
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"GraphQL endpoint ({DEFAULT_URL})")
    parser.add_argument(
        "--token", default=os.environ.get("SATREPS_TOKEN"), help="API token ($SATREPS_TOKEN)"
    )
    parser.add_argument(
        "--page-size", type=int, default=20, help="Projects per request (1-100, default 20)"
    )
    return parser.parse_args(argv)


def connect(url: str, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(transport=HTTPXTransport(url=url, headers=headers, timeout=30))


def project_pages(
    session: SyncClientSession, theme_id: str, page_size: int
) -> Iterator[dict[str, Any]]:
    """Yield the theme's projects page by page, following `endCursor` while there is more."""
    after: str | None = None
    while True:
        variables = {"themeId": theme_id, "first": page_size, "after": after}
        page = session.execute(GraphQLRequest(PROJECTS_PAGE, variable_values=variables))
        yield page["projects"]
        if not page["projects"]["pageInfo"]["hasNextPage"]:
            return
        after = page["projects"]["pageInfo"]["endCursor"]


def project_line(project: dict[str, Any]) -> str:
    acronym = f"{project['acronym']}: " if project["acronym"] else ""
    countries = ", ".join(c["code"] for c in project["partnerCountries"]) or "no partner yet"
    return f"  - {acronym}{project['title']} [{project['phase']}] ({countries})"


def print_projects_by_theme(client: Client, page_size: int) -> None:
    with client as session:  # one connection for all the requests
        themes = session.execute(GraphQLRequest(ROOT_THEMES))["themes"]
        if not themes:
            print("no themes yet")
        for theme in themes:
            for number, page in enumerate(project_pages(session, theme["id"], page_size)):
                if number == 0:
                    print(f"{theme['name']} [{theme['code']}]: {page['totalCount']} project(s)")
                for project in page["nodes"]:
                    print(project_line(project))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        print_projects_by_theme(connect(args.url, args.token), args.page_size)
    except TransportQueryError as error:  # refused as a whole: bad token, bad page size
        messages = "; ".join(e.get("message", str(e)) for e in error.errors or [])
        sys.exit(f"error: the server refused the request: {messages or error}")
    except TransportError as error:  # connection refused, timeout, not a GraphQL answer
        sys.exit(f"error: no GraphQL answer from {args.url}: {error}")


if __name__ == "__main__":
    main()
