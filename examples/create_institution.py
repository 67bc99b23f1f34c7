#!/usr/bin/env python3
"""Create an institution through the satreps-hub GraphQL API.

Needs a token of an admin or a program manager (`satreps token create --role admin ...`):

    export SATREPS_TOKEN=sh_...
    python examples/create_institution.py --name "Kasetsart University" \
        --country TH --kind university --acronym KU --website https://www.ku.ac.th

Prints the new institution's id on success. Exits with status 1 and a message on stderr
when the server refuses the input (the mutation payload's `errors`), rejects the token,
or cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.httpx import HTTPXTransport

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
KINDS = [
    "UNIVERSITY",
    "RESEARCH_INSTITUTE",
    "GOVERNMENT_AGENCY",
    "MINISTRY",
    "INTERNATIONAL_ORGANISATION",
    "COMPANY",
    "NGO",
]

CREATE_INSTITUTION = """
mutation CreateInstitution($input: CreateInstitutionInput!) {
  createInstitution(input: $input) {
    institution { id nameEn acronym kind country { code name } }
    errors { field code message }
  }
}
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"GraphQL endpoint ({DEFAULT_URL})")
    parser.add_argument(
        "--token", default=os.environ.get("SATREPS_TOKEN"), help="API token ($SATREPS_TOKEN)"
    )
    parser.add_argument("--name", required=True, help="English name")
    parser.add_argument("--country", required=True, help="ISO 3166-1 alpha-2 code, e.g. JP")
    parser.add_argument("--kind", required=True, type=str.upper, choices=KINDS)
    parser.add_argument("--acronym")
    parser.add_argument("--name-local", help="Name in the local language")
    parser.add_argument("--ror-id", help="ROR identifier, e.g. 057zh3y96")
    parser.add_argument("--website")
    return parser.parse_args(argv)


def execute(url: str, token: str | None, request: GraphQLRequest) -> dict[str, Any]:
    """Send one request and return its `data`; exit with a message if the request fails."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = Client(transport=HTTPXTransport(url=url, headers=headers, timeout=30))
    try:
        return client.execute(request)
    except TransportQueryError as error:  # refused as a whole: bad token, invalid query
        messages = "; ".join(e.get("message", str(e)) for e in error.errors or [])
        sys.exit(f"error: the server refused the request: {messages or error}")
    except TransportError as error:  # connection refused, timeout, not a GraphQL answer
        sys.exit(f"error: no GraphQL answer from {url}: {error}")


def institution_input(args: argparse.Namespace) -> dict[str, Any]:
    """The mutation's input; optional fields left out are not sent."""
    values = {
        "nameEn": args.name,
        "country": args.country,
        "kind": args.kind,
        "acronym": args.acronym,
        "nameLocal": args.name_local,
        "rorId": args.ror_id,
        "website": args.website,
    }
    return {key: value for key, value in values.items() if value is not None}


def describe_errors(errors: list[dict[str, Any]]) -> str:
    """One line per error: `field: message (CODE)`."""
    lines = []
    for error in errors:
        where = f"{error['field']}: " if error.get("field") else ""
        lines.append(f"  {where}{error['message']} ({error['code']})")
    return "\n".join(lines)


def create_institution(url: str, token: str | None, values: dict[str, Any]) -> dict[str, Any]:
    """Run the mutation; exit with the payload's errors if the server refuses the input."""
    request = GraphQLRequest(CREATE_INSTITUTION, variable_values={"input": values})
    payload = execute(url, token, request)["createInstitution"]
    if payload["errors"]:
        sys.exit("error: the institution was not created:\n" + describe_errors(payload["errors"]))
    return payload["institution"]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    institution = create_institution(args.url, args.token, institution_input(args))
    country = institution["country"]
    print(f"created {institution['nameEn']} ({institution['kind']}, {country['name']})")
    print(f"id: {institution['id']}")


if __name__ == "__main__":
    main()
