"""The access filters (issue 6) in bench/graph_read.py: the theme-project pairs each
principal may see, counted by hand-written SQL, and the nested query measured as anonymous,
researcher and admin on the compiled app (see graph_read.py's docstring)."""

from __future__ import annotations

import argparse
import statistics

from graph_read_measure import Send, Stats, measure, merged, say
from graph_read_queries import data_of
from graph_read_sql import public_phases_sql
from sqlalchemy.ext.asyncio import AsyncEngine

PRINCIPALS = ("anonymous", "researcher", "admin")


# ---- the access-filter check (hand-written SQL counts) ----------------------------------


# Theme-project pairs each principal may see, written by hand (not with server.access.visibility):
# anonymous: public phases; researcher: that OR a member OR one of their institutions takes
# part; admin: all.
VISIBLE_PAIRS_SQL = """
SELECT count(*) FROM project_themes pt JOIN projects pr ON pr.id = pt.project_id
WHERE {condition}
"""
PUBLIC_CONDITION = "pr.phase IN ({phases})"
RESEARCHER_CONDITION = (
    PUBLIC_CONDITION
    + " OR pr.id IN (SELECT project_id FROM project_members WHERE researcher_id = {rid})"
    " OR pr.id IN (SELECT pi.project_id FROM project_institutions pi JOIN affiliations a"
    " ON a.institution_id = pi.institution_id WHERE a.researcher_id = {rid}"
    " AND a.end_date IS NULL)"
)


async def expected_pairs(engine: AsyncEngine) -> dict[str, int]:
    phases = public_phases_sql()
    async with engine.connect() as conn:
        rid = (
            await conn.exec_driver_sql(
                "SELECT id FROM researchers WHERE name_en = 'Bench Researcher'"
            )
        ).scalar_one()
        conditions = {
            "anonymous": PUBLIC_CONDITION.format(phases=phases),
            "researcher": RESEARCHER_CONDITION.format(phases=phases, rid=rid),
            "admin": "true",
        }
        return {
            name: (
                await conn.exec_driver_sql(VISIBLE_PAIRS_SQL.format(condition=condition))
            ).scalar_one()
            for name, condition in conditions.items()
        }


# ---- the measurement -------------------------------------------------------------------


async def bench_principals(
    args: argparse.Namespace, senders: dict[str, Send], expected: dict[str, int]
) -> None:
    """The nested query as anonymous, researcher and admin: answers checked, then measured
    in interleaved rounds; the verdict compares the filtered to the unfiltered (admin)."""
    say(
        "\npostgresql: access filters, the nested query as anonymous, researcher and admin"
        " (compiled app, rate limits off)"
    )
    pairs: dict[str, int] = {}
    for name, send in senders.items():
        data = data_of(name, await send())
        pairs[name] = sum(len(t["projects"]) for t in data["themes"])
        if pairs[name] != expected[name]:
            raise RuntimeError(
                f"{name} sees {pairs[name]} theme-project pairs, SQL says {expected[name]}"
            )
    if not pairs["anonymous"] < pairs["researcher"] <= pairs["admin"]:
        raise RuntimeError(f"the filters do not tell the principals apart: {pairs}")
    say(
        "  answers checked against hand-written SQL: theme-project pairs "
        + ", ".join(f"{name} {count}" for name, count in pairs.items())
    )
    for send in senders.values():
        await measure(send, args.warmup, 1, args.seconds)

    modes = [("sequential", 1)]
    if args.concurrency > 1:
        modes.append((f"concurrency {args.concurrency}", args.concurrency))
    verdicts = []
    for title, concurrency in modes:
        runs: dict[str, list[Stats]] = {name: [] for name in senders}
        for _ in range(args.rounds):
            for name, send in senders.items():
                runs[name].append(await measure(send, args.requests, concurrency, args.seconds))
        rps = {name: statistics.median(s.rps for s in stats) for name, stats in runs.items()}
        say(
            f"\n  {title}, median of {args.rounds} rounds, each up to {args.requests} requests"
            f" / {args.seconds} s"
        )
        say(
            f"  {'principal':<11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'pairs':>6} "
            f"{'vs admin':>9} {'per pair vs admin':>18}"
        )
        for name in senders:
            latencies = merged(runs[name])
            ratio = rps[name] / rps["admin"]
            per_pair = (rps[name] * pairs[name]) / (rps["admin"] * pairs["admin"])
            say(
                f"  {name:<11} {rps[name]:>8.1f} {latencies.percentile(50):>8.1f} "
                f"{latencies.percentile(99):>8.1f} {pairs[name]:>6d} {ratio:>8.3f}x "
                f"{per_pair:>17.3f}x"
            )
        say(
            f"  researcher/anonymous {rps['researcher'] / rps['anonymous']:.3f}x, "
            f"admin/anonymous {rps['admin'] / rps['anonymous']:.3f}x"
        )
        worst = min(rps["anonymous"], rps["researcher"]) / rps["admin"]
        verdicts.append((title, worst))
    say("")
    for title, worst in verdicts:
        met = "MET" if worst >= 0.8 else "MISSED"
        say(
            f"  target (filtered >= 0.8 x unfiltered req/s), {title}: {met} "
            f"(slowest filtered principal at {worst:.3f}x the admin)"
        )
