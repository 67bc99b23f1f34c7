async def test_health(client, dialect):
    r = await client.get("/healthz")
    assert r.json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.json()["status"] == "ready"


async def test_countries(gql):
    data = await gql("{ countries { code name } }")
    codes = {c["code"] for c in data["countries"]}
    assert {"JP", "TH", "KE", "BR"} <= codes


async def test_readyz_reports_each_dependency(client):
    body = (await client.get("/readyz")).json()
    assert body == {"status": "ready", "database": "ok", "objects": "ok"}
