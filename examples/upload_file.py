#!/usr/bin/env python3
"""Upload a data file into a dataset's draft version of satreps-hub.

Needs a token of a contributor to the dataset (`satreps token create ...`):

    export SATREPS_TOKEN=sh_...
    python examples/upload_file.py levels_2023.csv --dataset RGF0YXNldDox...

`--dataset` takes a DatasetVersion id, or a Dataset id (its open draft is used). Files over
64 MiB go in 16 MiB parts. If the upload is interrupted, run the same command again: only
the parts the server has not received are sent (the progress is kept in
`<file>.satreps-upload.json` next to the file until the upload is finished).

Exits with status 0 when the server has verified the file (sha256) and made it READY, and
with status 1 and a message on stderr otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# run from a checkout without installing: the uploader lives in the server package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.core.global_ids import BadId, global_id, parse_id  # noqa: E402
from server.http.upload_client import DEFAULT_URL, run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="the file to upload")
    parser.add_argument(
        "--dataset",
        required=True,
        help="Dataset id (its open draft is used) or DatasetVersion id: a global id,"
        " Dataset:N / DatasetVersion:N, or a plain number (a Dataset's), as `satreps upload`",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"GraphQL endpoint ({DEFAULT_URL})")
    parser.add_argument(
        "--token", default=os.environ.get("SATREPS_TOKEN"), help="API token ($SATREPS_TOKEN)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        dataset = global_id(*parse_id(args.dataset, "Dataset", "DatasetVersion"))
    except BadId as error:
        parser.error(f"--dataset: {error}")
    sys.exit(run(args.file, dataset, args.url, args.token, progress=not args.no_progress))


if __name__ == "__main__":
    main()
