"""The GraphQL-over-HTTP specification, checked by graphql-http's own audit suite
(`auditServer`, npm `graphql-http`, pinned in tests/audit/package-lock.json and installed
there by scripts/services with `npm ci`) against the real app served on a live port."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from server.core.db import session_factory

AUDIT = Path(__file__).resolve().parents[1] / "audit"
NODE = shutil.which("node")


@pytest.fixture
def sessions(real_engine):
    """This module's database (tests/fixtures/live.py): the audit sends requests at once."""
    return session_factory(real_engine)


async def audit(url: str) -> list[dict[str, str]]:
    process = await asyncio.create_subprocess_exec(
        NODE or "node",
        str(AUDIT / "audit.mjs"),
        url,
        cwd=AUDIT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return json.loads(out)


@pytest.mark.skipif(NODE is None, reason="node is missing (scripts/services installs it)")
async def test_every_graphql_over_http_audit_passes(live_server):
    assert (AUDIT / "node_modules" / "graphql-http").is_dir(), (
        "graphql-http is not installed: run scripts/services (npm ci in tests/audit)"
    )
    results = await audit(f"http://{live_server}/graphql")
    failed = [f"{r['id']} {r['status']}: {r['name']} ({r.get('reason')})" for r in results]
    failed = [line for line, r in zip(failed, results, strict=True) if r["status"] != "ok"]
    assert len(results) > 50  # the suite ran whole
    assert not failed, "\n".join(failed)
