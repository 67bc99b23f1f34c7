"""No N+1: the SQL statements per request do not grow with the number of items."""

from __future__ import annotations

from server.models.enums import InstitutionRole, MemberRole

NESTED = """{
  themes {
    name sdgs parent { name } children { name }
    projects {
      title themes { code } partnerCountries { name }
      institutions { role institution { nameEn country { name } projects { title } } }
      members { role researcher { nameEn affiliations { institution { nameEn } } projects { title } } institution { nameEn } }
      phaseHistory { toPhase }
    }
  }
  projects(first: 100) { nodes { title institutions { institution { nameEn } } } }
  institutions(first: 100) { nodes { nameEn country { code } projects { title } } }
  researchers(first: 100) { nodes { nameEn affiliations { title institution { nameEn } } } }
}"""


async def add_projects(factory, n: int) -> None:
    for i in range(n):
        project = await factory.project(countries=("TH", "VN"), theme_ids=(1 + i % 6, 5))
        jp = await factory.institution("JP")
        th = await factory.institution("TH")
        await factory.link(project.id, jp.id, InstitutionRole.JAPANESE_LEAD)
        await factory.link(project.id, th.id, InstitutionRole.PARTNER_LEAD)
        pi = await factory.researcher()
        await factory.member(project.id, pi.id, MemberRole.JAPANESE_PI)


async def count_statements(admin, statements) -> tuple[int, int]:
    with statements.measure() as counter:
        data = await admin(NESTED)
    items = sum(len(t["projects"]) for t in data["themes"])
    return counter.count, items


async def test_statement_count_does_not_grow_with_items(admin, factory, statements):
    await admin("{ me { role } }")  # the token's last-used time is written once a minute
    await add_projects(factory, 2)
    small, small_items = await count_statements(admin, statements)
    await add_projects(factory, 10)
    large, large_items = await count_statements(admin, statements)
    assert large_items > 4 * small_items
    assert large == small, (small, large)
    print(f"statements per request: {small} ({small_items} and {large_items} theme projects)")
    assert small < 40
